//! `providers[].azure_ad`: the Microsoft Entra ID preset, for one tenant or several.

use crate::config::field_reader::{ObjectReader, Problems};
use crate::config::{read_fetch_settings, Endpoint, KeySource};
use serde_json::Value;

/// What the preset expands to.
pub struct AzureAd {
    /// Exact issuers (one tenant); empty for a multi-tenant provider.
    pub issuers: Vec<String>,
    /// `tenant: "organizations"`: issuers of any listed tenant.
    pub tenant_issuers: Option<TenantIssuers>,
    /// The issuers the discovery document may state. The document is the v2.0 one, so they
    /// are v2 issuers even for a provider of v1 tokens only.
    pub document_issuers: Vec<String>,
    pub keys: KeySource,
}

/// Multi-tenant Entra ID: a token's `iss` is one of `templates` with a tenant id in place of
/// `{tid}`, and that id is both the token's `tid` claim and one of `tenants`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantIssuers {
    /// The text before and after the tenant id, e.g. `https://sts.windows.net/` and `/`.
    pub templates: Vec<(String, String)>,
    /// Lower-case tenant ids; `None` when `allow_any_tenant` is set.
    pub tenants: Option<Vec<String>>,
}

impl TenantIssuers {
    /// The tenant id `iss` names, if it fits a template; not yet checked against `tenants`.
    pub fn tenant_of<'i>(&self, iss: &'i str) -> Option<&'i str> {
        self.templates.iter().find_map(|(before, after)| {
            let tid = iss
                .strip_prefix(before.as_str())?
                .strip_suffix(after.as_str())?;
            is_guid(tid).then_some(tid)
        })
    }

    /// Whether a verified token's `iss` and `tid` name the same tenant, and one that is allowed.
    pub fn admits(&self, iss: &str, tid: Option<&str>) -> bool {
        let (Some(named), Some(tid)) = (self.tenant_of(iss), tid) else {
            return false;
        };
        named.eq_ignore_ascii_case(tid)
            && self
                .tenants
                .as_ref()
                .is_none_or(|tenants| tenants.iter().any(|t| t.eq_ignore_ascii_case(tid)))
    }
}

/// `providers[].azure_ad`.
// Not inlined: see "Function size" in lib.rs.
#[inline(never)]
pub fn read_azure_ad(path: &str, value: &Value, problems: &mut Problems) -> Option<AzureAd> {
    let mut obj = ObjectReader::new(path, value, problems)?;
    let tenant = obj.required_string("tenant", problems);
    let cluster = obj.required_string("cluster", problems);
    let cloud_name = obj
        .string("cloud", problems)
        .unwrap_or_else(|| "public".into());
    let cloud = AzureCloud::from_name(&cloud_name);
    if cloud.is_none() {
        problems.add(
            &obj.path_of("cloud"),
            format!("expected \"public\", \"usgov\" or \"china\", got \"{cloud_name}\""),
        );
    }
    let versions = read_versions(&mut obj, problems);
    let multi_tenant = tenant.as_deref() == Some(ORGANIZATIONS);
    if let Some(t) = &tenant {
        check_tenant(&obj, t, multi_tenant, problems);
    }
    let tenants = read_tenants(&mut obj, multi_tenant, problems);
    let fetch = read_fetch_settings(&mut obj, problems);
    obj.finish(problems);
    let (tenant, cluster, cloud, versions) = (tenant?, cluster?, cloud?, versions?);
    let templates = issuer_templates(cloud, &versions);
    let document_uri = format!(
        "https://{}/{tenant}/v2.0/.well-known/openid-configuration",
        cloud.login_host()
    );
    let document = Endpoint::new(&cluster, &document_uri)?;
    let keys = KeySource::Discovery {
        document,
        jwks_cluster: cluster,
        fetch,
    };
    // The common document states its issuer with a literal `{tenantid}`.
    let document_tenant = if multi_tenant { "{tenantid}" } else { &tenant };
    let document_issuers = cloud
        .v2_issuer_hosts()
        .iter()
        .map(|host| format!("https://{host}/{document_tenant}/v2.0"))
        .collect();
    if multi_tenant {
        return Some(AzureAd {
            issuers: Vec::new(),
            tenant_issuers: Some(TenantIssuers {
                templates,
                tenants: tenants?,
            }),
            document_issuers,
            keys,
        });
    }
    Some(AzureAd {
        issuers: templates
            .iter()
            .map(|(before, after)| format!("{before}{tenant}{after}"))
            .collect(),
        tenant_issuers: None,
        document_issuers,
        keys,
    })
}

/// The issuer versions to accept; `None` (with the problem noted) when the list is not valid.
// Not inlined: see "Function size" in lib.rs.
#[inline(never)]
fn read_versions(obj: &mut ObjectReader<'_>, problems: &mut Problems) -> Option<Vec<String>> {
    if !obj.has("versions") {
        return Some(vec!["v1".to_string(), "v2".to_string()]);
    }
    let list = obj.string_list("versions", problems)?;
    let bad: Vec<&String> = list.iter().filter(|v| *v != "v1" && *v != "v2").collect();
    if list.is_empty() {
        problems.add(&obj.path_of("versions"), "must list v1, v2 or both");
        return None;
    }
    if !bad.is_empty() {
        problems.add(
            &obj.path_of("versions"),
            format!("expected \"v1\" and/or \"v2\", got {bad:?}"),
        );
        return None;
    }
    Some(list)
}

// Not inlined: see "Function size" in lib.rs.
#[inline(never)]
fn check_tenant(obj: &ObjectReader<'_>, t: &str, multi_tenant: bool, problems: &mut Problems) {
    if matches!(t, "common" | "consumers") {
        problems.add(
            &obj.path_of("tenant"),
            format!("{t} is not supported: for tokens of several work or school tenants use \"organizations\" with tenants; otherwise give the tenant id"),
        );
    } else if !multi_tenant && !is_guid(t) {
        problems.add(
            &obj.path_of("tenant"),
            "expected the tenant id, a GUID (or \"organizations\" with tenants): tokens name the tenant by id, never by domain",
        );
    }
}

/// The issuers' text before and after the tenant id, for each token version asked for.
// Not inlined: see "Function size" in lib.rs.
#[inline(never)]
fn issuer_templates(cloud: AzureCloud, versions: &[String]) -> Vec<(String, String)> {
    let mut templates = Vec::new();
    if versions.iter().any(|v| v == "v1") {
        templates.push((
            format!("https://{}/", cloud.v1_issuer_host()),
            "/".to_string(),
        ));
    }
    if versions.iter().any(|v| v == "v2") {
        for host in cloud.v2_issuer_hosts() {
            templates.push((format!("https://{host}/"), "/v2.0".to_string()));
        }
    }
    templates
}

/// The tenant that stands for every work or school tenant; its discovery document names the
/// common key set.
const ORGANIZATIONS: &str = "organizations";

/// `tenants` and `allow_any_tenant`: only with `"tenant": "organizations"`, and one of them is
/// required there. `Some(None)` is any tenant.
// Not inlined: see "Function size" in lib.rs.
#[inline(never)]
fn read_tenants(
    obj: &mut ObjectReader<'_>,
    multi_tenant: bool,
    problems: &mut Problems,
) -> Option<Option<Vec<String>>> {
    let any = obj.bool("allow_any_tenant", problems).unwrap_or(false);
    let given = obj.has("tenants");
    let tenants = if given {
        obj.string_list("tenants", problems)
    } else {
        None
    };
    if !multi_tenant {
        for field in ["tenants", "allow_any_tenant"] {
            if obj.has(field) {
                problems.add(
                    &obj.path_of(field),
                    "only applies with \"tenant\": \"organizations\"",
                );
            }
        }
        return None;
    }
    match (tenants, any) {
        (Some(_), true) => {
            problems.add(
                &obj.path_of("allow_any_tenant"),
                "give tenants or allow_any_tenant, not both",
            );
            None
        }
        (None, true) => Some(None),
        (Some(list), false) if list.is_empty() => {
            problems.add(
                &obj.path_of("tenants"),
                "must list at least one tenant id (or set allow_any_tenant: true to accept every tenant)",
            );
            None
        }
        (Some(list), false) => {
            let bad: Vec<&String> = list.iter().filter(|t| !is_guid(t)).collect();
            if !bad.is_empty() {
                problems.add(
                    &obj.path_of("tenants"),
                    format!("expected tenant ids (GUIDs), got {bad:?}"),
                );
                return None;
            }
            Some(Some(list.iter().map(|t| t.to_ascii_lowercase()).collect()))
        }
        (None, false) => {
            if !given {
                problems.add(
                    &obj.path_of("tenants"),
                    "is required with \"organizations\": list the tenant ids to accept (or set allow_any_tenant: true)",
                );
            }
            None
        }
    }
}

pub fn is_guid(text: &str) -> bool {
    let groups: Vec<&str> = text.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, len)| g.len() == len && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The Entra ID cloud instances and their hosts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AzureCloud {
    Public,
    UsGov,
    China,
}

impl AzureCloud {
    fn from_name(name: &str) -> Option<Self> {
        match name {
            "public" => Some(AzureCloud::Public),
            "usgov" => Some(AzureCloud::UsGov),
            "china" => Some(AzureCloud::China),
            _ => None,
        }
    }

    pub fn login_host(self) -> &'static str {
        match self {
            AzureCloud::Public => "login.microsoftonline.com",
            AzureCloud::UsGov => "login.microsoftonline.us",
            AzureCloud::China => "login.chinacloudapi.cn",
        }
    }

    /// v1 tokens carry the STS host; US Government shares the global one.
    pub fn v1_issuer_host(self) -> &'static str {
        match self {
            AzureCloud::Public | AzureCloud::UsGov => "sts.windows.net",
            AzureCloud::China => "sts.chinacloudapi.cn",
        }
    }

    /// China's v2 issuer moved to login.partner.microsoftonline.cn; both forms are seen.
    pub fn v2_issuer_hosts(self) -> &'static [&'static str] {
        match self {
            AzureCloud::Public => &["login.microsoftonline.com"],
            AzureCloud::UsGov => &["login.microsoftonline.us"],
            AzureCloud::China => &["login.partner.microsoftonline.cn", "login.chinacloudapi.cn"],
        }
    }
}
