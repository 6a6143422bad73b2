//! A trusted token issuer: its issuers, audiences, key source and required claims.

use crate::config::azure_ad::{read_azure_ad, AzureAd, TenantIssuers};
use crate::config::claim_conditions::read_claim_conditions;
use crate::config::field_reader::{child_path, ObjectReader, Problems};
use crate::config::key_source::{
    check_max_stale_seconds, read_discovery, read_local_jwks, read_remote_jwks, KeySource,
};
use crate::config::names::is_metric_safe;
use crate::decision::claim_condition::ClaimCondition;
use serde_json::Value;

#[derive(Debug, Clone)]
pub struct Provider {
    pub name: String,
    /// Exact issuers; empty for a multi-tenant Entra ID provider, which has `tenant_issuers`.
    pub issuers: Vec<String>,
    pub tenant_issuers: Option<TenantIssuers>,
    /// The issuers a discovery document for this provider may state: its issuers, or for
    /// `azure_ad` the v2 issuers the v2.0 document states.
    pub document_issuers: Vec<String>,
    pub audiences: Vec<String>,
    pub keys: KeySource,
    /// Checked for every token of this provider, after lifetime; a failure is 401.
    pub required_claims: Vec<ClaimCondition>,
}

// Not inlined: see "Function size" in lib.rs.
#[inline(never)]
pub(super) fn check_providers_distinct(providers: &[Provider], problems: &mut Problems) {
    for (i, p) in providers.iter().enumerate() {
        let earlier = providers.iter().take(i);
        if earlier.clone().any(|o| o.name == p.name) {
            problems.add(
                &format!("providers[{i}].name"),
                format!("provider name {} is used twice", p.name),
            );
        }
        for iss in &p.issuers {
            if earlier.clone().any(|o| o.issuers.contains(iss)) {
                problems.add(
                    &format!("providers[{i}].issuers"),
                    format!("issuer {iss} belongs to two providers; a token's iss must pick one"),
                );
            }
        }
        if let Some(tenants) = &p.tenant_issuers {
            let overlaps = earlier.clone().any(|o| {
                o.tenant_issuers
                    .as_ref()
                    .is_some_and(|t| t.templates.iter().any(|x| tenants.templates.contains(x)))
            });
            if overlaps {
                problems.add(
                    &format!("providers[{i}].azure_ad.tenant"),
                    "two multi-tenant providers of one cloud: a token's iss must pick one; list every tenant in one provider's tenants",
                );
            }
        }
    }
}

const KEY_SOURCES: [&str; 4] = ["remote_jwks", "discovery", "azure_ad", "local_jwks"];

/// `issuer` / `issuers`, or the issuers `azure_ad` derived (with either of those a mistake).
// Not inlined: see "Function size" in lib.rs.
#[inline(never)]
fn read_issuers(
    obj: &mut ObjectReader<'_>,
    given: &[&'static str],
    azure: Option<&AzureAd>,
    problems: &mut Problems,
) -> Option<Vec<String>> {
    match (
        obj.has("issuer"),
        obj.has("issuers"),
        given.contains(&"azure_ad"),
    ) {
        (false, false, true) => azure.map(|a| a.issuers.clone()),
        (_, _, true) => {
            let field = if obj.has("issuer") {
                "issuer"
            } else {
                "issuers"
            };
            problems.add(
                &obj.path_of(field),
                "azure_ad derives the issuers from the tenant; remove this field",
            );
            obj.get("issuer");
            obj.get("issuers");
            None
        }
        (true, true, _) => {
            problems.add(&obj.path_of("issuers"), "give issuer or issuers, not both");
            obj.get("issuer");
            obj.get("issuers");
            None
        }
        (true, false, _) => obj.required_string("issuer", problems).map(|i| vec![i]),
        (false, true, _) => match obj.string_list("issuers", problems) {
            Some(list) if list.is_empty() => {
                problems.add(&obj.path_of("issuers"), "must list at least one issuer");
                None
            }
            other => other,
        },
        (false, false, false) => {
            problems.add(&obj.path_of("issuers"), "issuer or issuers is required");
            None
        }
    }
}

// Not inlined: see "Function size" in lib.rs.
#[inline(never)]
pub(super) fn read_provider(
    path: &str,
    value: &Value,
    problems: &mut Problems,
) -> Option<Provider> {
    let mut obj = ObjectReader::new(path, value, problems)?;
    let name = obj.required_string("name", problems);
    if let Some(n) = &name {
        if !is_metric_safe(n) {
            problems.add(
                &obj.path_of("name"),
                "use letters, digits, '_' and '-' only (it names metrics)",
            );
        }
    }

    let given: Vec<&'static str> = KEY_SOURCES.into_iter().filter(|k| obj.has(k)).collect();
    let azure = if obj.has("azure_ad") {
        let field = obj.path_of("azure_ad");
        obj.get("azure_ad")
            .and_then(|v| read_azure_ad(&field, v, problems))
    } else {
        None
    };

    let issuers = read_issuers(&mut obj, &given, azure.as_ref(), problems);

    let audiences = if obj.has("audiences") {
        match obj.string_list("audiences", problems) {
            Some(list) if list.is_empty() => {
                problems.add(&obj.path_of("audiences"), "must list at least one audience");
                None
            }
            other => other,
        }
    } else {
        obj.get("audiences");
        problems.add(
            &obj.path_of("audiences"),
            "is required (a token for another API must not be accepted)",
        );
        None
    };

    let keys = match given.as_slice() {
        [] => {
            problems.add(
                &obj.path_of("remote_jwks"),
                "a key source is required: remote_jwks, discovery, azure_ad or local_jwks",
            );
            None
        }
        [source] => {
            let field = obj.path_of(source);
            let keys = match *source {
                "remote_jwks" => obj
                    .get("remote_jwks")
                    .and_then(|v| read_remote_jwks(&field, v, problems)),
                "discovery" => obj
                    .get("discovery")
                    .and_then(|v| read_discovery(&field, v, problems)),
                "azure_ad" => azure.as_ref().map(|a| a.keys.clone()),
                _ => obj
                    .get("local_jwks")
                    .and_then(|v| read_local_jwks(&field, v, problems))
                    .map(KeySource::Local),
            };
            if let Some(keys) = &keys {
                check_max_stale_seconds(&child_path(&field, "max_stale_seconds"), keys, problems);
            }
            keys
        }
        several => {
            for source in several {
                obj.get(source);
            }
            problems.add(
                &obj.path_of(several.get(1).copied().unwrap_or("remote_jwks")),
                format!("give one key source, not {}", several.join(" and ")),
            );
            None
        }
    };
    let required_claims = match obj.get("required_claims") {
        Some(v) => read_claim_conditions(&obj.path_of("required_claims"), v, problems),
        None => Some(Vec::new()),
    };
    obj.finish(problems);
    let issuers = issuers?;
    let (tenant_issuers, document_issuers) = match azure {
        Some(AzureAd {
            tenant_issuers,
            document_issuers,
            ..
        }) => (tenant_issuers, document_issuers),
        None => (None, issuers.clone()),
    };
    Some(Provider {
        name: name?,
        issuers,
        tenant_issuers,
        document_issuers,
        audiences: audiences?,
        keys: keys?,
        required_claims: required_claims?,
    })
}
