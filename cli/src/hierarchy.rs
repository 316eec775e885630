//! `esdk hierarchy create-store|create-key|version-key KEY=VALUE...`: operator commands for the
//! branch key store that `-w provider=aws-kms-hierarchy` reads.

use crate::args::{HierarchyAction, parse_kwargs};
use crate::error::CliError;
use crate::keys::{key_store, runtime};
use std::collections::BTreeMap;

const KNOWN: &[&str] = &[
    "table",
    "logical-name",
    "kms-key",
    "branch-key-id",
    "region",
    "profile",
    "grant-token",
];

/// Runs one store operation and prints its result (table ARN, branch key id or new version).
pub fn run(action: HierarchyAction, params: &[String]) -> Result<(), CliError> {
    let p = parse_kwargs(params)?;
    if let Some(k) = p.keys().find(|k| !KNOWN.contains(&k.as_str())) {
        return Err(CliError::usage(format!(
            "esdk hierarchy: unknown parameter \"{}\" (expected one of: {})",
            crate::error::escape(k, 64),
            KNOWN.join(", ")
        )));
    }
    if let Some((k, _)) = p
        .iter()
        .find(|(k, v)| v.len() > 1 && k.as_str() != "grant-token")
    {
        return Err(CliError::usage(format!(
            "esdk hierarchy: give \"{k}\" only once"
        )));
    }
    let id = p
        .get("branch-key-id")
        .and_then(|v| v.first())
        .map(String::as_str);
    match action {
        HierarchyAction::CreateStore => {
            if id.is_some() {
                return Err(CliError::usage(
                    "esdk hierarchy create-store does not take branch-key-id=",
                ));
            }
        }
        HierarchyAction::CreateKey | HierarchyAction::VersionKey => {
            if !p.contains_key("kms-key") {
                return Err(CliError::usage(
                    "esdk hierarchy create-key and version-key need kms-key=",
                ));
            }
            if action == HierarchyAction::VersionKey && id.is_none() {
                return Err(CliError::usage(
                    "esdk hierarchy version-key needs branch-key-id=",
                ));
            }
        }
    }
    let rt = runtime()?;
    let store = key_store(&p, &rt)?;
    let failed = |e: esdk_hierarchy::KeyStoreError| CliError::bad(e.to_string());
    let out = match action {
        HierarchyAction::CreateStore => rt.block_on(store.create_key_store()).map_err(failed)?,
        HierarchyAction::CreateKey => {
            let empty = BTreeMap::new();
            rt.block_on(store.create_key(id, id.map(|_| &empty)))
                .map_err(failed)?
        }
        HierarchyAction::VersionKey => rt
            .block_on(store.version_key(id.unwrap_or_default()))
            .map_err(failed)?,
    };
    println!("{out}");
    Ok(())
}
