//! Known AWS regions, and AWS's published canonical hosted-zone ids of application load balancers.
//!
//! CloudFormation's `Fn::GetAtt LoadBalancer.CanonicalHostedZoneID` is what a template would use, but
//! the local cloud leaves it unresolved; an alias record to an ALB therefore takes its hosted-zone id
//! from [`alb_hosted_zone_id`].

/// Every region name Tandem accepts: the commercial partition, GovCloud and China.
pub const KNOWN_REGIONS: &[&str] = &[
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "af-south-1",
    "ap-east-1",
    "ap-east-2",
    "ap-south-1",
    "ap-south-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ap-southeast-5",
    "ap-southeast-7",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ca-central-1",
    "ca-west-1",
    "eu-central-1",
    "eu-central-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "eu-south-1",
    "eu-south-2",
    "eu-north-1",
    "il-central-1",
    "me-south-1",
    "me-central-1",
    "mx-central-1",
    "sa-east-1",
    "us-gov-east-1",
    "us-gov-west-1",
    "cn-north-1",
    "cn-northwest-1",
];

/// Whether `name` is a region AWS has (from the table above).
pub fn is_known_region(name: &str) -> bool {
    KNOWN_REGIONS.contains(&name)
}

/// Application (and classic) load balancers' canonical hosted-zone ids, as AWS publishes them in
/// "Elastic Load Balancing endpoints and quotas". Regions whose id is not listed here are refused by
/// [`alb_hosted_zone_id`] rather than guessed.
pub const ALB_HOSTED_ZONE_IDS: &[(&str, &str)] = &[
    ("us-east-1", "Z35SXDOTRQ7X7K"),
    ("us-east-2", "Z3AADJGX6KTTL2"),
    ("us-west-1", "Z368ELLRRE2KJ0"),
    ("us-west-2", "Z1H1FL5HABSF5"),
    ("af-south-1", "Z268VQBMOI5EKX"),
    ("ap-east-1", "Z3DQVH9N71FHZ0"),
    ("ap-south-1", "ZP97RAFLXTNZK"),
    ("ap-south-2", "Z0173938T07WNTVAEPZN"),
    ("ap-southeast-1", "Z1LMS91P8CMLE5"),
    ("ap-southeast-2", "Z1GM3OXH4ZPM65"),
    ("ap-southeast-3", "Z08888821HLRG5A9ZRTER"),
    ("ap-southeast-4", "Z09517862IB2WZLPXG76F"),
    ("ap-northeast-1", "Z14GRHDCWA56QT"),
    ("ap-northeast-2", "ZWKZPGTI48KDX"),
    ("ap-northeast-3", "Z5LXEXXYW11ES"),
    ("ca-central-1", "ZQSVJUPU6J1EY"),
    ("ca-west-1", "Z06473681N0SF6OS049SD"),
    ("eu-central-1", "Z215JYRZR1TBD5"),
    ("eu-central-2", "Z06391101F2ZOEP8P5EB3"),
    ("eu-west-1", "Z32O12XQLNTSW2"),
    ("eu-west-2", "ZHURV8PSTC4K8"),
    ("eu-west-3", "Z3Q77PNBQS71R4"),
    ("eu-south-1", "Z3ULH7SSC9OV64"),
    ("eu-south-2", "Z0956581394HF5D5LXGAP"),
    ("eu-north-1", "Z23TAZ7KEJEV3V"),
    ("il-central-1", "Z09170902867EHPV2DABU"),
    ("me-south-1", "ZS929ML54UICD"),
    ("me-central-1", "Z08230872XQRWHG2XF6I"),
    ("sa-east-1", "Z2P70J7HTTTPLU"),
    ("us-gov-east-1", "Z166TLBEWOO7G0"),
    ("us-gov-west-1", "Z33AYJ8TM3BH4J"),
    ("cn-north-1", "Z1GDH35T77C1KE"),
    ("cn-northwest-1", "ZM7IZAIOVVDZF"),
];

/// The canonical hosted-zone id of application load balancers in `region`, if published here.
pub fn alb_hosted_zone_id(region: &str) -> Option<&'static str> {
    ALB_HOSTED_ZONE_IDS
        .iter()
        .find(|(r, _)| *r == region)
        .map(|(_, id)| *id)
}

/// Checks a region name against the table, with a message naming it.
pub fn check_region(name: &str) -> Result<(), String> {
    if is_known_region(name) {
        Ok(())
    } else {
        Err(format!("{name:?} is not a known AWS region"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_agree() {
        for (region, id) in ALB_HOSTED_ZONE_IDS {
            assert!(is_known_region(region), "{region}");
            assert!(id.starts_with('Z'), "{id}");
        }
        assert_eq!(alb_hosted_zone_id("us-east-1"), Some("Z35SXDOTRQ7X7K"));
        assert_eq!(alb_hosted_zone_id("us-west-2"), Some("Z1H1FL5HABSF5"));
        assert_eq!(alb_hosted_zone_id("eu-west-1"), Some("Z32O12XQLNTSW2"));
        assert_eq!(alb_hosted_zone_id("xx-nowhere-1"), None);
        assert!(!is_known_region("us-east-9"));
    }
}
