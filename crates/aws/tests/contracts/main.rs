//! Contract tests: the AWS requests Tandem builds that the local cloud cannot judge (moto accepts
//! what AWS refuses, and refuses some of what AWS accepts), built from the pure functions that
//! build them and checked against the rules AWS documents. Nothing here calls a cloud.
//!
//! One module per area; add yours beside these, with the rule each assertion holds and where AWS
//! states it.

mod alb;
mod arns;
mod route53;

use tandem_core::{Props, Region};
use tandem_schema::props_of;
use tandem_schema::regions::alb_hosted_zone_id;
use tandem_schema::route53::{Failover, Record, RecordSet};

/// The failover pair of `app.example.com` as the multi-region stack declares it
/// (`stacks/multi-region/src/program.rs`): set identifier `app-<region>`, an alias to the region's
/// ALB with the ALB hosted-zone id of [`alb_hosted_zone_id`] and `EvaluateTargetHealth`, the
/// region's health check.
pub fn failover_pair(primary: &str, secondary: &str) -> Props {
    let alias = |role, r: &str| {
        Record::failover_alias(
            role,
            format!("app-{r}"),
            alb_hosted_zone_id(r).expect("a published ALB hosted-zone id"),
            format!("tandem-app-123.{r}.elb.amazonaws.com"),
        )
        .health_check_id(format!("hc-{r}"))
    };
    props_of(
        RecordSet::new(&Region::Global, "app")
            .unwrap()
            .zone_id("Z0CONTRACT")
            .name("app.example.com")
            .record_type("A")
            .record(alias(Failover::Primary, primary))
            .record(alias(Failover::Secondary, secondary)),
    )
}
