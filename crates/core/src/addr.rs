//! Resource addresses: where a resource lives (a region, or `global`), what kind it is, and its name.

use std::fmt;
use std::str::FromStr;

use crate::error::AddrError;

/// The region a resource lives in. `Global` is for services without a region (Route 53, IAM).
///
/// Only the syntax of a region name is checked here; whether AWS has such a region is the
/// business of the crates that know AWS.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Region {
    Global,
    Named(String),
}

impl Region {
    /// Parses `global` or a region name such as `us-east-1`.
    pub fn parse(text: &str) -> Result<Region, AddrError> {
        if text == "global" {
            return Ok(Region::Global);
        }
        if is_region_name(text) {
            Ok(Region::Named(text.to_string()))
        } else {
            Err(AddrError::InvalidRegion(text.to_string()))
        }
    }

    /// A named region; panics on syntax that [`Region::parse`] would refuse, so only for literals.
    pub fn named(name: &str) -> Region {
        match Region::parse(name) {
            Ok(r) => r,
            Err(e) => panic!("{e}"),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Region::Global => "global",
            Region::Named(n) => n,
        }
    }

    pub fn is_global(&self) -> bool {
        matches!(self, Region::Global)
    }
}

fn is_region_name(text: &str) -> bool {
    // `xx-word-N` or `xx-gov-word-N`: lowercase parts separated by '-', the last one digits.
    let parts: Vec<&str> = text.split('-').collect();
    if parts.len() < 3 || parts.len() > 4 {
        return false;
    }
    let (last, init) = parts.split_last().expect("at least three parts");
    !last.is_empty()
        && last.bytes().all(|b| b.is_ascii_digit())
        && init
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A resource's address: `REGION/SERVICE:Type/NAME`, for example `us-east-1/rds:DbInstance/app-db`.
///
/// The text form is stable: it is the key in state files, journals, plans and previews.
/// Addresses order by their text form, which makes every listing deterministic.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ResourceAddr {
    /// Shared: addresses are cloned into dependency lists, states and plans. Nothing else is kept:
    /// no part contains a `/`, so the parts are found again from the two separators, and an address
    /// stays two words wide.
    text: std::sync::Arc<str>,
}

impl ResourceAddr {
    pub fn new(region: &Region, kind: &str, name: &str) -> Result<ResourceAddr, AddrError> {
        check_kind(kind)?;
        check_name(name)?;
        let text = format!("{region}/{kind}/{name}");
        Ok(ResourceAddr { text: text.into() })
    }

    /// Where the region part ends and where the kind part ends: the two separators.
    fn ends(&self) -> (usize, usize) {
        let region_end = self.text.find('/').expect("validated at construction");
        let kind_end = region_end
            + 1
            + self.text[region_end + 1..]
                .find('/')
                .expect("validated at construction");
        (region_end, kind_end)
    }

    /// The region part, parsed.
    pub fn region(&self) -> Region {
        Region::parse(self.region_str()).expect("validated at construction")
    }

    pub fn region_str(&self) -> &str {
        let region_end = self.text.find('/').expect("validated at construction");
        &self.text[..region_end]
    }

    /// The kind, `SERVICE:Type`, for example `s3:Bucket`.
    pub fn kind(&self) -> &str {
        let (region_end, kind_end) = self.ends();
        &self.text[region_end + 1..kind_end]
    }

    /// The service part of the kind, for example `s3`.
    pub fn service(&self) -> &str {
        self.kind().split(':').next().unwrap_or_default()
    }

    pub fn name(&self) -> &str {
        let (_, kind_end) = self.ends();
        &self.text[kind_end + 1..]
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }
}

fn check_kind(kind: &str) -> Result<(), AddrError> {
    let ok = match kind.split_once(':') {
        Some((svc, ty)) => {
            !svc.is_empty()
                && !ty.is_empty()
                && svc
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
                && ty.bytes().all(|b| b.is_ascii_alphanumeric())
        }
        None => false,
    };
    if ok {
        Ok(())
    } else {
        Err(AddrError::InvalidKind(kind.to_string()))
    }
}

fn check_name(name: &str) -> Result<(), AddrError> {
    let ok = !name.is_empty()
        && name.len() <= 200
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(AddrError::InvalidName(name.to_string()))
    }
}

impl FromStr for ResourceAddr {
    type Err = AddrError;

    fn from_str(text: &str) -> Result<ResourceAddr, AddrError> {
        let mut parts = text.splitn(3, '/');
        let (Some(region), Some(kind), Some(name)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(AddrError::Malformed(text.to_string()));
        };
        ResourceAddr::new(&Region::parse(region)?, kind, name)
    }
}

impl fmt::Display for ResourceAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialOrd for ResourceAddr {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for ResourceAddr {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.text.cmp(&other.text)
    }
}

impl serde::Serialize for ResourceAddr {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for ResourceAddr {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_form_round_trips() {
        let a: ResourceAddr = "us-east-1/rds:DbInstance/app-db".parse().unwrap();
        assert_eq!(a.region(), Region::named("us-east-1"));
        assert_eq!(a.kind(), "rds:DbInstance");
        assert_eq!(a.service(), "rds");
        assert_eq!(a.name(), "app-db");
        assert_eq!(a.to_string(), "us-east-1/rds:DbInstance/app-db");
        let g: ResourceAddr = "global/route53:HostedZone/main".parse().unwrap();
        assert!(g.region().is_global());
    }

    #[test]
    fn bad_addresses_are_refused() {
        for bad in [
            "",
            "us-east-1/rds:DbInstance",
            "useast1/rds:DbInstance/x",
            "us-east-1/rds/x",
            "us-east-1/rds:DbInstance/a b",
            "us-east-1/:X/a",
        ] {
            assert!(bad.parse::<ResourceAddr>().is_err(), "{bad} accepted");
        }
        assert!(Region::parse("us-gov-west-1").is_ok());
        assert!(Region::parse("US-east-1").is_err());
    }
}
