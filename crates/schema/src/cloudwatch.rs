//! CloudWatch metric alarms.
//!
//! # `cloudwatch:Alarm` inputs
//! `alarm_name` (required; replaces), `namespace`, `metric_name`, `statistic` (Average, Sum,
//! Minimum, Maximum, SampleCount; default Average), `dimensions` (map of strings), `period`
//! (seconds, 10, 30 or a multiple of 60; default 60), `evaluation_periods` (default 1),
//! `threshold` (number, required), `comparison_operator` (required), `treat_missing_data`
//! (breaching, notBreaching, ignore, missing), `alarm_actions`, `ok_actions` (lists of ARNs),
//! `alarm_description`, `tags`. Outputs: `alarm_name`, `alarm_arn`.

use tandem_core::Props;

use crate::kinds;
use crate::props::{
    PropError, check_string_list, check_string_map, check_tags, int_of, number_of, required_str,
    str_of,
};

resource_builder!(
    /// A CloudWatch alarm on one metric.
    Alarm,
    kinds::CLOUDWATCH_ALARM
);

setters!(Alarm {
    alarm_name => "alarm_name",
    namespace => "namespace",
    metric_name => "metric_name",
    statistic => "statistic",
    dimensions => "dimensions",
    period => "period",
    evaluation_periods => "evaluation_periods",
    threshold => "threshold",
    comparison_operator => "comparison_operator",
    treat_missing_data => "treat_missing_data",
    alarm_actions => "alarm_actions",
    ok_actions => "ok_actions",
    alarm_description => "alarm_description",
});

pub const STATISTICS: &[&str] = &["Average", "Sum", "Minimum", "Maximum", "SampleCount"];
pub const COMPARISON_OPERATORS: &[&str] = &[
    "GreaterThanOrEqualToThreshold",
    "GreaterThanThreshold",
    "LessThanThreshold",
    "LessThanOrEqualToThreshold",
];
pub const TREAT_MISSING_DATA: &[&str] = &["breaching", "notBreaching", "ignore", "missing"];

fn one_of(props: &Props, key: &str, allowed: &[&str]) -> Result<(), PropError> {
    if let Some(v) = str_of(props, key)? {
        if !allowed.contains(&v) {
            return Err(PropError(format!(
                "`{key}` must be one of {}, not {v:?}",
                allowed.join(", ")
            )));
        }
    }
    Ok(())
}

/// Validates the inputs of a `cloudwatch:Alarm`.
pub fn validate_alarm(props: &Props) -> Result<(), PropError> {
    required_str(props, "alarm_name")?;
    required_str(props, "namespace")?;
    required_str(props, "metric_name")?;
    required_str(props, "comparison_operator")?;
    one_of(props, "comparison_operator", COMPARISON_OPERATORS)?;
    one_of(props, "statistic", STATISTICS)?;
    one_of(props, "treat_missing_data", TREAT_MISSING_DATA)?;
    if number_of(props, "threshold")?.is_none() && !props.contains_key("threshold") {
        return Err(PropError("`threshold` is required".into()));
    }
    if let Some(p) = int_of(props, "period")? {
        if !(p == 10 || p == 30 || (p >= 60 && p % 60 == 0)) {
            return Err(PropError(format!(
                "`period` must be 10, 30 or a multiple of 60 seconds, not {p}"
            )));
        }
    }
    if let Some(n) = int_of(props, "evaluation_periods")? {
        if n < 1 {
            return Err(PropError(format!(
                "`evaluation_periods` must be 1 or more, not {n}"
            )));
        }
    }
    check_string_map(props, "dimensions")?;
    check_string_list(props, "alarm_actions")?;
    check_string_list(props, "ok_actions")?;
    str_of(props, "alarm_description")?;
    check_tags(props)
}
