//! `cloudwatch:Alarm`. `aws-sdk-cloudwatch` is pinned at 1.99.0, the last release speaking the
//! query/JSON protocols the local cloud answers (see the workspace Cargo.toml).

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_cloudwatch::types::{ComparisonOperator, Dimension, MetricAlarm, Statistic, Tag};
use tandem_core::{Props, ResourceAddr, Value};
use tandem_engine::provider::{Identity, Observed, OpContext, Provider, ProviderError};
use tandem_schema::{cloudwatch as schema, kinds};

use crate::call::call;
use crate::clients::AwsClients;
use crate::error::{OrNotFound, ReadBack};
use crate::props::{
    PropsBuilder, all_tags, opt_f64, opt_i32, opt_str, region_of, removed_tag_keys, req_str,
    schema_check, str_list, str_map,
};

/// `cloudwatch:Alarm`.
pub struct AlarmProvider {
    clients: AwsClients,
}

impl AlarmProvider {
    pub fn new(clients: AwsClients) -> AlarmProvider {
        AlarmProvider { clients }
    }

    async fn put(
        &self,
        ctx: &OpContext,
        inputs: &Props,
        with_tags: bool,
    ) -> Result<(), ProviderError> {
        let region = region_of(ctx)?;
        let name = req_str(inputs, "alarm_name")?;
        let threshold = opt_f64(inputs, "threshold")?
            .ok_or_else(|| ProviderError::invalid("input `threshold` is required"))?;
        let dims: Vec<Dimension> = str_map(inputs, "dimensions")?
            .iter()
            .map(|(k, v)| Dimension::builder().name(k).value(v).build())
            .collect();
        let tags: Vec<Tag> = all_tags(ctx, inputs)?
            .iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build())
            .collect();
        // Read once, before the call: an input error is an error, not an empty field sent.
        let namespace = req_str(inputs, "namespace")?;
        let metric_name = req_str(inputs, "metric_name")?;
        let statistic = Statistic::from(
            opt_str(inputs, "statistic")?
                .as_deref()
                .unwrap_or("Average"),
        );
        let period = opt_i32(inputs, "period")?.unwrap_or(60);
        let evaluation_periods = opt_i32(inputs, "evaluation_periods")?.unwrap_or(1);
        let comparison = ComparisonOperator::from(req_str(inputs, "comparison_operator")?.as_str());
        let treat_missing_data = opt_str(inputs, "treat_missing_data")?;
        let alarm_actions = str_list(inputs, "alarm_actions")?;
        let ok_actions = str_list(inputs, "ok_actions")?;
        let description = opt_str(inputs, "alarm_description")?;
        let cw = self.clients.cloudwatch(&region).await;
        call(self.clients.retry(), "cloudwatch:PutMetricAlarm", || {
            let mut req = cw
                .put_metric_alarm()
                .alarm_name(&name)
                .namespace(&namespace)
                .metric_name(&metric_name)
                .statistic(statistic.clone())
                .set_dimensions(Some(dims.clone()))
                .period(period)
                .evaluation_periods(evaluation_periods)
                .threshold(threshold)
                .comparison_operator(comparison.clone())
                .set_treat_missing_data(treat_missing_data.clone())
                .set_alarm_actions(Some(alarm_actions.clone()))
                .set_ok_actions(Some(ok_actions.clone()))
                .set_alarm_description(description.clone());
            if with_tags {
                req = req.set_tags(Some(tags.clone()));
            }
            req.send()
        })
        .await?;
        Ok(())
    }

    async fn describe(
        &self,
        region: &str,
        name: &str,
    ) -> Result<Option<MetricAlarm>, ProviderError> {
        let cw = self.clients.cloudwatch(region).await;
        let out = call(self.clients.retry(), "cloudwatch:DescribeAlarms", || {
            cw.describe_alarms().alarm_names(name).send()
        })
        .await?;
        Ok(out
            .metric_alarms()
            .iter()
            .find(|a| a.alarm_name() == Some(name))
            .cloned())
    }

    /// The alarm's tags, as CloudWatch lists them (they are not part of `DescribeAlarms`).
    async fn tags(&self, region: &str, a: &MetricAlarm) -> Result<Vec<Tag>, ProviderError> {
        let Some(arn) = a.alarm_arn() else {
            return Ok(Vec::new());
        };
        let cw = self.clients.cloudwatch(region).await;
        let out = call(
            self.clients.retry(),
            "cloudwatch:ListTagsForResource",
            || cw.list_tags_for_resource().resource_arn(arn).send(),
        )
        .await?;
        Ok(out.tags().to_vec())
    }

    /// The alarm named `name` as observed, its tags included; `None` when there is none.
    async fn read_observed(
        &self,
        region: &str,
        name: &str,
        last: &Props,
    ) -> Result<Option<Observed>, ProviderError> {
        let Some(a) = self.describe(region, name).await? else {
            return Ok(None);
        };
        let tags = self.tags(region, &a).await?;
        Ok(Some(Self::observed(&a, &tags, last)))
    }

    /// Brings the alarm's tags to `new`'s: `PutMetricAlarm` only tags on creation.
    async fn retag(
        &self,
        ctx: &OpContext,
        region: &str,
        id: &str,
        old: &Props,
        new: &Props,
    ) -> Result<(), ProviderError> {
        if old.get("tags") == new.get("tags") {
            return Ok(());
        }
        let Some(arn) = self
            .describe(region, id)
            .await?
            .and_then(|a| a.alarm_arn().map(str::to_string))
        else {
            return Ok(());
        };
        let wanted = all_tags(ctx, new)?;
        let tags: Vec<Tag> = wanted
            .iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build())
            .collect();
        let cw = self.clients.cloudwatch(region).await;
        call(self.clients.retry(), "cloudwatch:TagResource", || {
            cw.tag_resource()
                .resource_arn(&arn)
                .set_tags(Some(tags.clone()))
                .send()
        })
        .await?;
        let removed = removed_tag_keys(old, &wanted)?;
        if !removed.is_empty() {
            call(self.clients.retry(), "cloudwatch:UntagResource", || {
                cw.untag_resource()
                    .resource_arn(&arn)
                    .set_tag_keys(Some(removed.clone()))
                    .send()
            })
            .await?;
        }
        Ok(())
    }

    fn observed(a: &MetricAlarm, tags: &[Tag], last: &Props) -> Observed {
        let dims: BTreeMap<String, Value> = a
            .dimensions()
            .iter()
            .filter_map(|d| Some((d.name()?.to_string(), Value::str(d.value()?))))
            .collect();
        let threshold = a.threshold().map(|t| match last.get("threshold") {
            Some(Value::Int(i)) if (*i as f64) == t => Value::Int(*i),
            _ => Value::Float(t),
        });
        let list = |l: &[String]| Value::List(l.iter().map(Value::str).collect());
        let empty = Value::List(Vec::new());
        let inputs = PropsBuilder::new()
            .opt("alarm_name", a.alarm_name())
            .opt("namespace", a.namespace())
            .opt("metric_name", a.metric_name())
            .defaulted(
                last,
                "statistic",
                Value::str(a.statistic().map(|s| s.as_str()).unwrap_or("Average")),
                Value::str("Average"),
            )
            .defaulted(
                last,
                "dimensions",
                Value::Map(dims),
                Value::Map(BTreeMap::new()),
            )
            .defaulted_or(last, "period", a.period(), 60)
            .defaulted_or(last, "evaluation_periods", a.evaluation_periods(), 1)
            .opt("threshold", threshold)
            .opt(
                "comparison_operator",
                a.comparison_operator().map(|c| c.as_str().to_string()),
            )
            .opt(
                "treat_missing_data",
                a.treat_missing_data()
                    .filter(|t| last.contains_key("treat_missing_data") || *t != "missing"),
            )
            .defaulted(
                last,
                "alarm_actions",
                list(a.alarm_actions()),
                empty.clone(),
            )
            .defaulted(last, "ok_actions", list(a.ok_actions()), empty)
            .opt(
                "alarm_description",
                a.alarm_description().filter(|d| !d.is_empty()),
            )
            .user_tags(
                last,
                tags.iter().filter_map(|t| Some((t.key()?, t.value()?))),
            )
            .build();
        Observed {
            id: a.alarm_name().unwrap_or_default().to_string(),
            inputs,
            outputs: PropsBuilder::new()
                .opt("alarm_name", a.alarm_name())
                .opt("alarm_arn", a.alarm_arn())
                .build(),
        }
    }
}

#[async_trait]
impl Provider for AlarmProvider {
    fn kind(&self) -> &'static str {
        kinds::CLOUDWATCH_ALARM
    }

    fn replace_on(&self) -> &'static [&'static str] {
        &["alarm_name"]
    }

    fn identity(&self) -> Identity {
        Identity::Named(&["alarm_name"])
    }

    fn validate(&self, _addr: &ResourceAddr, inputs: &Props) -> Result<(), String> {
        schema_check(schema::validate_alarm(inputs))
    }

    async fn create(&self, ctx: &OpContext, inputs: &Props) -> Result<Observed, ProviderError> {
        self.put(ctx, inputs, true).await?;
        let region = region_of(ctx)?;
        let name = req_str(inputs, "alarm_name")?;
        self.read_observed(&region, &name, inputs)
            .await?
            .found_after_create(|| {
                format!("cloudwatch:DescribeAlarms: alarm {name} not found after PutMetricAlarm")
            })
    }

    async fn read(
        &self,
        ctx: &OpContext,
        id: &str,
        inputs: &Props,
    ) -> Result<Option<Observed>, ProviderError> {
        let region = region_of(ctx)?;
        self.read_observed(&region, id, inputs).await
    }

    async fn update(
        &self,
        ctx: &OpContext,
        id: &str,
        old: &Props,
        new: &Props,
    ) -> Result<Observed, ProviderError> {
        // PutMetricAlarm replaces the whole definition; tags only apply on creation, so they are
        // changed apart.
        self.put(ctx, new, false).await?;
        let region = region_of(ctx)?;
        self.retag(ctx, &region, id, old, new).await?;
        self.read_observed(&region, id, new)
            .await?
            .found_after_update(|| format!("cloudwatch:DescribeAlarms: alarm {id} vanished"))
    }

    async fn delete(
        &self,
        ctx: &OpContext,
        id: &str,
        _inputs: &Props,
    ) -> Result<(), ProviderError> {
        let region = region_of(ctx)?;
        let cw = self.clients.cloudwatch(&region).await;
        call(self.clients.retry(), "cloudwatch:DeleteAlarms", || {
            cw.delete_alarms().alarm_names(id).send()
        })
        .await
        .or_not_found()?;
        Ok(())
    }

    async fn find(
        &self,
        ctx: &OpContext,
        inputs: &Props,
    ) -> Result<Option<Observed>, ProviderError> {
        let name = req_str(inputs, "alarm_name")?;
        self.read(ctx, &name, inputs).await
    }
}
