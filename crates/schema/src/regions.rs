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
    "ap-southeast-6",
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

/// Application (and classic) load balancers' canonical hosted-zone ids, as AWS publishes them: the
/// "Route 53 Hosted Zone ID (Application Load Balancers, Classic Load Balancers)" column of
/// "Elastic Load Balancing endpoints and quotas" in the AWS General Reference
/// (<https://docs.aws.amazon.com/general/latest/gr/elb.html>), and for the two China regions the
/// same table in the China regions' General Reference
/// (<https://docs.amazonaws.cn/en_us/general/latest/gr/rande.html#elb_region>). Checked entry by
/// entry on 2026-12-02, against that table as known and against independently maintained copies
/// of it (the Terraform AWS provider's `aws_lb_hosted_zone_id`, among others); the page itself
/// could not be fetched where this was checked. eu-north-1 was `Z23TAZ7KEJEV3V` here before:
/// wrong, AWS's table says `Z23TAZ6LKFMNIO`. The network load balancers' column is a different
/// one and is not used here. Regions whose id is not listed here are refused by [`alb_hosted_zone_id`] rather
/// than guessed. `tests::alb_table_is_the_published_one` holds a copy: change both together, and
/// only from AWS's table.
pub const ALB_HOSTED_ZONE_IDS: &[(&str, &str)] = &[
    ("us-east-1", "Z35SXDOTRQ7X7K"),
    ("us-east-2", "Z3AADJGX6KTTL2"),
    ("us-west-1", "Z368ELLRRE2KJ0"),
    ("us-west-2", "Z1H1FL5HABSF5"),
    ("af-south-1", "Z268VQBMOI5EKX"),
    ("ap-east-1", "Z3DQVH9N71FHZ0"),
    ("ap-east-2", "Z02789141MW7T1WBU19PO"),
    ("ap-south-1", "ZP97RAFLXTNZK"),
    ("ap-south-2", "Z0173938T07WNTVAEPZN"),
    ("ap-southeast-1", "Z1LMS91P8CMLE5"),
    ("ap-southeast-2", "Z1GM3OXH4ZPM65"),
    ("ap-southeast-3", "Z08888821HLRG5A9ZRTER"),
    ("ap-southeast-4", "Z09517862IB2WZLPXG76F"),
    ("ap-southeast-5", "Z06010284QMVVW7WO5J"),
    ("ap-southeast-6", "Z023301818UFJ50CIO0MV"),
    ("ap-southeast-7", "Z0390008CMBRTHFGWBCB"),
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
    ("eu-north-1", "Z23TAZ6LKFMNIO"),
    ("il-central-1", "Z09170902867EHPV2DABU"),
    ("me-south-1", "ZS929ML54UICD"),
    ("me-central-1", "Z08230872XQRWHG2XF6I"),
    ("mx-central-1", "Z023552324OKD1BB28BH5"),
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

/// The ARN partition of `region`: `aws-us-gov` for GovCloud (`us-gov-*`), `aws-cn` for China
/// (`cn-*`), the isolated and sovereign partitions by their prefixes, and `aws` for every other
/// region. An ARN names its partition (`arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE`, AWS
/// General Reference, "Amazon Resource Names"); `arn:aws:` is wrong outside the commercial
/// partition. The prefixes are the `regionRegex` of each partition in the AWS SDKs' endpoint
/// rules (`partitions.json`).
pub fn partition(region: &str) -> &'static str {
    const PREFIXES: &[(&str, &str)] = &[
        ("us-gov-", "aws-us-gov"),
        ("cn-", "aws-cn"),
        ("us-iso-", "aws-iso"),
        ("us-isob-", "aws-iso-b"),
        ("eu-isoe-", "aws-iso-e"),
        ("us-isof-", "aws-iso-f"),
        ("eusc-", "aws-eusc"),
    ];
    PREFIXES
        .iter()
        .find(|(prefix, _)| region.starts_with(prefix))
        .map_or("aws", |(_, p)| p)
}

/// The DNS suffix of AWS endpoints in `region`'s partition (`dnsSuffix` in the SDKs'
/// `partitions.json`): `amazonaws.com.cn` in China, `amazonaws.com` in the commercial partition
/// and GovCloud.
pub fn dns_suffix(region: &str) -> &'static str {
    match partition(region) {
        "aws-cn" => "amazonaws.com.cn",
        "aws-iso" => "c2s.ic.gov",
        "aws-iso-b" => "sc2s.sgov.gov",
        "aws-iso-e" => "cloud.adc-e.uk",
        "aws-iso-f" => "csp.hci.ic.gov",
        "aws-eusc" => "amazonaws.eu",
        _ => "amazonaws.com",
    }
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

    /// A copy of AWS's published table (see [`ALB_HOSTED_ZONE_IDS`]): an accidental edit of
    /// either fails here. Change both only from AWS's table.
    #[test]
    fn alb_table_is_the_published_one() {
        const PUBLISHED: &[(&str, &str)] = &[
            ("af-south-1", "Z268VQBMOI5EKX"),
            ("ap-east-1", "Z3DQVH9N71FHZ0"),
            ("ap-east-2", "Z02789141MW7T1WBU19PO"),
            ("ap-northeast-1", "Z14GRHDCWA56QT"),
            ("ap-northeast-2", "ZWKZPGTI48KDX"),
            ("ap-northeast-3", "Z5LXEXXYW11ES"),
            ("ap-south-1", "ZP97RAFLXTNZK"),
            ("ap-south-2", "Z0173938T07WNTVAEPZN"),
            ("ap-southeast-1", "Z1LMS91P8CMLE5"),
            ("ap-southeast-2", "Z1GM3OXH4ZPM65"),
            ("ap-southeast-3", "Z08888821HLRG5A9ZRTER"),
            ("ap-southeast-4", "Z09517862IB2WZLPXG76F"),
            ("ap-southeast-5", "Z06010284QMVVW7WO5J"),
            ("ap-southeast-6", "Z023301818UFJ50CIO0MV"),
            ("ap-southeast-7", "Z0390008CMBRTHFGWBCB"),
            ("ca-central-1", "ZQSVJUPU6J1EY"),
            ("ca-west-1", "Z06473681N0SF6OS049SD"),
            ("cn-north-1", "Z1GDH35T77C1KE"),
            ("cn-northwest-1", "ZM7IZAIOVVDZF"),
            ("eu-central-1", "Z215JYRZR1TBD5"),
            ("eu-central-2", "Z06391101F2ZOEP8P5EB3"),
            ("eu-north-1", "Z23TAZ6LKFMNIO"),
            ("eu-south-1", "Z3ULH7SSC9OV64"),
            ("eu-south-2", "Z0956581394HF5D5LXGAP"),
            ("eu-west-1", "Z32O12XQLNTSW2"),
            ("eu-west-2", "ZHURV8PSTC4K8"),
            ("eu-west-3", "Z3Q77PNBQS71R4"),
            ("il-central-1", "Z09170902867EHPV2DABU"),
            ("me-central-1", "Z08230872XQRWHG2XF6I"),
            ("me-south-1", "ZS929ML54UICD"),
            ("mx-central-1", "Z023552324OKD1BB28BH5"),
            ("sa-east-1", "Z2P70J7HTTTPLU"),
            ("us-east-1", "Z35SXDOTRQ7X7K"),
            ("us-east-2", "Z3AADJGX6KTTL2"),
            ("us-gov-east-1", "Z166TLBEWOO7G0"),
            ("us-gov-west-1", "Z33AYJ8TM3BH4J"),
            ("us-west-1", "Z368ELLRRE2KJ0"),
            ("us-west-2", "Z1H1FL5HABSF5"),
        ];
        let mut table: Vec<(&str, &str)> = ALB_HOSTED_ZONE_IDS.to_vec();
        table.sort();
        assert_eq!(
            table, PUBLISHED,
            "ALB_HOSTED_ZONE_IDS differs from AWS's table"
        );
        for (region, id) in PUBLISHED {
            assert_eq!(alb_hosted_zone_id(region), Some(*id), "{region}");
        }
        // The known error: eu-north-1 is not Z23TAZ7KEJEV3V.
        assert_eq!(alb_hosted_zone_id("eu-north-1"), Some("Z23TAZ6LKFMNIO"));
        // ELB lists every region Tandem accepts.
        for region in KNOWN_REGIONS {
            assert!(
                alb_hosted_zone_id(region).is_some(),
                "{region} has no ALB id"
            );
        }
    }

    #[test]
    fn partition_follows_the_region() {
        assert_eq!(partition("us-east-1"), "aws");
        assert_eq!(partition("eu-north-1"), "aws");
        assert_eq!(partition("ap-southeast-6"), "aws");
        assert_eq!(partition("us-gov-west-1"), "aws-us-gov");
        assert_eq!(partition("us-gov-east-1"), "aws-us-gov");
        assert_eq!(partition("cn-north-1"), "aws-cn");
        assert_eq!(partition("cn-northwest-1"), "aws-cn");
        assert_eq!(partition("us-iso-east-1"), "aws-iso");
        assert_eq!(partition("us-isob-east-1"), "aws-iso-b");
        assert_eq!(partition("eu-isoe-west-1"), "aws-iso-e");
        assert_eq!(partition("us-isof-south-1"), "aws-iso-f");
        assert_eq!(partition("eusc-de-east-1"), "aws-eusc");
        for region in KNOWN_REGIONS {
            let expected = if region.starts_with("us-gov-") {
                "aws-us-gov"
            } else if region.starts_with("cn-") {
                "aws-cn"
            } else {
                "aws"
            };
            assert_eq!(partition(region), expected, "{region}");
        }
        assert_eq!(dns_suffix("cn-north-1"), "amazonaws.com.cn");
        assert_eq!(dns_suffix("us-gov-west-1"), "amazonaws.com");
        assert_eq!(dns_suffix("us-east-1"), "amazonaws.com");
    }
}
