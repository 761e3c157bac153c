//! Errors of the model: each names the thing that is wrong.

use thiserror::Error;

use crate::addr::ResourceAddr;

#[derive(Debug, Error, Clone, PartialEq)]
pub enum AddrError {
    #[error("invalid region {0:?}: expected `global` or a region name such as `us-east-1`")]
    InvalidRegion(String),
    #[error("invalid resource kind {0:?}: expected `service:Type`, for example `s3:Bucket`")]
    InvalidKind(String),
    #[error("invalid resource name {0:?}: use letters, digits, `-`, `_` and `.` (at most 200)")]
    InvalidName(String),
    #[error("malformed resource address {0:?}: expected `REGION/service:Type/NAME`")]
    Malformed(String),
}

/// Why a set of declared resources does not form a valid graph.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum GraphError {
    #[error("resource {0} is declared twice")]
    DuplicateAddress(ResourceAddr),
    #[error("resource {from} refers to {to}, which is not declared")]
    UnknownReference {
        from: ResourceAddr,
        to: ResourceAddr,
    },
    #[error("dependency cycle: {}", format_cycle(.0))]
    Cycle(Vec<ResourceAddr>),
}

fn format_cycle(members: &[ResourceAddr]) -> String {
    let mut text: Vec<String> = members.iter().map(|a| a.to_string()).collect();
    if let Some(first) = members.first() {
        text.push(first.to_string());
    }
    text.join(" -> ")
}
