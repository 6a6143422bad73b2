//! The app registrations the authorization server knows, as an Entra ID tenant holds them:
//! one API (an application id, its `api://` identifier URI and its app roles) and the
//! client applications (daemons) with their secrets and the app roles granted to them.
//! Read from `envoy/demo/registrations.json`.

use serde_json::Value;
use std::path::Path;

/// The registrations shipped with the demo, compiled in.
pub const BUILT_IN: &str = include_str!("../../envoy/demo/registrations.json");

#[derive(Debug, Clone)]
pub struct Registrations {
    pub tenant_id: String,
    pub api: Api,
    pub clients: Vec<Client>,
}

/// The protected API's app registration.
#[derive(Debug, Clone)]
pub struct Api {
    pub display_name: String,
    pub app_id: String,
    /// `api://<app id>`.
    pub identifier_uri: String,
    /// The values of its app roles, such as `invokeRole`.
    pub app_roles: Vec<String>,
}

/// A daemon's app registration and its service principal in the tenant.
#[derive(Debug, Clone)]
pub struct Client {
    pub display_name: String,
    pub app_id: String,
    pub service_principal_object_id: String,
    pub secret: String,
    /// App roles of the API granted to this client (admin-consented application permissions).
    pub granted_app_roles: Vec<String>,
}

impl Registrations {
    /// Reads and checks a registrations file.
    pub fn load(path: &Path) -> Result<Registrations, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        Registrations::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Parses and checks registrations given as JSON text.
    pub fn parse(text: &str) -> Result<Registrations, String> {
        let root: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
        let tenant_id = guid(&root, "tenant_id")?;
        let api_value = root.get("api").ok_or("api: missing")?;
        let api = Api {
            display_name: string(api_value, "display_name", "api")?,
            app_id: guid(api_value, "app_id").map_err(|e| format!("api.{e}"))?,
            identifier_uri: string(api_value, "identifier_uri", "api")?,
            app_roles: api_value
                .get("app_roles")
                .and_then(Value::as_array)
                .ok_or("api.app_roles: expected an array")?
                .iter()
                .map(|role| string(role, "value", "api.app_roles[]"))
                .collect::<Result<_, _>>()?,
        };
        if !api.identifier_uri.starts_with("api://") {
            return Err(format!(
                "api.identifier_uri: expected api://..., got {}",
                api.identifier_uri
            ));
        }
        let clients: Vec<Client> = root
            .get("clients")
            .and_then(Value::as_array)
            .ok_or("clients: expected an array")?
            .iter()
            .enumerate()
            .map(|(i, c)| client(c, i, &api))
            .collect::<Result<_, _>>()?;
        for (i, c) in clients.iter().enumerate() {
            if clients.iter().take(i).any(|o| o.app_id == c.app_id) {
                return Err(format!("clients[{i}].app_id: {} is listed twice", c.app_id));
            }
        }
        Ok(Registrations {
            tenant_id,
            api,
            clients,
        })
    }

    /// The client registered under `app_id`.
    pub fn client(&self, app_id: &str) -> Option<&Client> {
        self.clients.iter().find(|c| c.app_id == app_id)
    }

    /// The client with this display name.
    pub fn client_named(&self, display_name: &str) -> Option<&Client> {
        self.clients.iter().find(|c| c.display_name == display_name)
    }
}

fn client(value: &Value, i: usize, api: &Api) -> Result<Client, String> {
    let at = format!("clients[{i}]");
    let client = Client {
        display_name: string(value, "display_name", &at)?,
        app_id: guid(value, "app_id").map_err(|e| format!("{at}.{e}"))?,
        service_principal_object_id: guid(value, "service_principal_object_id")
            .map_err(|e| format!("{at}.{e}"))?,
        secret: string(value, "secret", &at)?,
        granted_app_roles: value
            .get("granted_app_roles")
            .and_then(Value::as_array)
            .ok_or(format!("{at}.granted_app_roles: expected an array"))?
            .iter()
            .map(|r| {
                r.as_str()
                    .map(str::to_string)
                    .ok_or(format!("{at}.granted_app_roles: expected strings"))
            })
            .collect::<Result<_, _>>()?,
    };
    if let Some(unknown) = client
        .granted_app_roles
        .iter()
        .find(|r| !api.app_roles.contains(r))
    {
        return Err(format!(
            "{at}.granted_app_roles: {unknown} is not an app role of {}",
            api.display_name
        ));
    }
    Ok(client)
}

fn string(value: &Value, field: &str, at: &str) -> Result<String, String> {
    value
        .get(field)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .ok_or(format!("{at}.{field}: expected a non-empty string"))
}

fn guid(value: &Value, field: &str) -> Result<String, String> {
    let text = value
        .get(field)
        .and_then(Value::as_str)
        .ok_or(format!("{field}: expected a GUID string"))?;
    if !is_guid(text) {
        return Err(format!("{field}: {text} is not a GUID"));
    }
    Ok(text.to_string())
}

/// `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`, lowercase hex.
pub fn is_guid(text: &str) -> bool {
    let groups: Vec<&str> = text.split('-').collect();
    groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12])
        && groups.iter().all(|g| {
            g.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_registrations_are_valid() {
        let r = Registrations::parse(BUILT_IN).unwrap();
        assert_eq!(r.api.identifier_uri, format!("api://{}", r.api.app_id));
        assert_eq!(r.api.app_roles, ["invokeRole"]);
        let calc = r.client_named("calc-client").unwrap();
        assert_eq!(calc.granted_app_roles, ["invokeRole"]);
        let reporting = r.client_named("reporting-client").unwrap();
        assert!(reporting.granted_app_roles.is_empty());
        assert_eq!(
            r.client(&calc.app_id).map(|c| &c.display_name),
            Some(&calc.display_name)
        );
    }

    #[test]
    fn mistakes_are_named() {
        let bad_role = BUILT_IN.replacen(r#"["invokeRole"]"#, r#"["adminRole"]"#, 2);
        let e = Registrations::parse(&bad_role).unwrap_err();
        assert!(e.contains("adminRole is not an app role"), "{e}");
        let bad_guid = BUILT_IN.replace("7c3a9e51-", "7c3a9e5-");
        let e = Registrations::parse(&bad_guid).unwrap_err();
        assert!(e.starts_with("tenant_id:"), "{e}");
        assert!(is_guid("00000000-0000-4000-8000-000000000000"));
        assert!(!is_guid("00000000-0000-4000-8000-00000000000G"));
    }
}
