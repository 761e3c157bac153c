//! `autoscaling:GroupCapacity`: the capacity of an Auto Scaling group another resource owns
//! (typically a CloudFormation stack or stack-set instance), set through the API of the group's
//! own region.
//!
//! A failover scales the standby region's group. The stack set that made the group is
//! administered from one region, which may be the region that is down, so the capacity is never
//! changed by a stack-set deploy: this provider calls `UpdateAutoScalingGroup` in the resource's
//! region, which works whatever the state of the other region.
//!
//! # Guarantees
//! - `create` and `update` make the group's desired capacity `desired_capacity`, moving `MinSize`
//!   down (or to `min_size` when set) and `MaxSize` up when the capacity lies outside them, since
//!   AWS refuses a desired capacity outside `[MinSize, MaxSize]`.
//! - `delete` leaves the group exactly as it is: the group belongs to its stack, and deleting the
//!   capacity resource only stops Tandem from managing it.
//! - `read` of a group that no longer exists is `None`; `find` is `read` by name.

use async_trait::async_trait;
use aws_sdk_autoscaling::types::AutoScalingGroup;
use tandem_core::{Props, ResourceAddr};
use tandem_engine::provider::{ErrorClass, Identity, Observed, OpContext, Provider, ProviderError};
use tandem_schema::{autoscaling as schema, kinds};

use crate::call::call;
use crate::clients::AwsClients;
use crate::error::{CallError, ReadBack};
use crate::props::{PropsBuilder, opt_i32, region_of, req_str, schema_check};

/// `autoscaling:GroupCapacity`. The id is the group's name.
pub struct GroupCapacityProvider {
    clients: AwsClients,
}

/// The sizes to send so that `desired` is within `[min, max]`: `(min, max)` after the change.
///
/// `min_size`, when set, is the minimum; otherwise the group's own minimum, lowered to `desired`
/// when it is above it. The maximum is raised to `desired` (or `min_size`) when below.
pub fn sizes_for(desired: i32, min_size: Option<i32>, live_min: i32, live_max: i32) -> (i32, i32) {
    let min = min_size.unwrap_or(live_min.min(desired));
    let max = live_max.max(desired).max(min);
    (min, max)
}

impl GroupCapacityProvider {
    pub fn new(clients: AwsClients) -> GroupCapacityProvider {
        GroupCapacityProvider { clients }
    }

    async fn describe(
        &self,
        region: &str,
        name: &str,
    ) -> Result<Option<AutoScalingGroup>, CallError> {
        let asg = self.clients.autoscaling(region).await;
        let out = call(
            self.clients.retry(),
            "autoscaling:DescribeAutoScalingGroups",
            || {
                asg.describe_auto_scaling_groups()
                    .auto_scaling_group_names(name)
                    .send()
            },
        )
        .await?;
        Ok(out
            .auto_scaling_groups()
            .iter()
            .find(|g| g.auto_scaling_group_name() == Some(name))
            .cloned())
    }

    fn observed(name: &str, g: &AutoScalingGroup, last: &Props) -> Observed {
        let desired = g.desired_capacity().map(i64::from);
        let min = g.min_size().map(i64::from);
        let mut inputs = PropsBuilder::new()
            .set("group_name", name)
            .opt("desired_capacity", desired);
        // The group's minimum is only compared when the program names one.
        if last.contains_key("min_size") {
            inputs = inputs.opt("min_size", min);
        }
        Observed {
            id: name.to_string(),
            inputs: inputs.build(),
            outputs: PropsBuilder::new()
                .set("group_name", name)
                .opt("arn", g.auto_scaling_group_arn())
                .opt("desired_capacity", desired)
                .opt("min_size", min)
                .opt("max_size", g.max_size().map(i64::from))
                .build(),
        }
    }

    /// Sets the capacity (the same for create and update), then reads it back.
    async fn scale(
        &self,
        ctx: &OpContext,
        inputs: &Props,
        missing: ErrorClass,
    ) -> Result<Observed, ProviderError> {
        let region = region_of(ctx)?;
        let name = req_str(inputs, "group_name")?;
        let desired = opt_i32(inputs, "desired_capacity")?
            .ok_or_else(|| ProviderError::invalid("input `desired_capacity` is required"))?;
        let min_size = opt_i32(inputs, "min_size")?;
        let Some(live) = self.describe(&region, &name).await? else {
            return Err(ProviderError::new(
                missing,
                format!(
                    "autoscaling:DescribeAutoScalingGroups: Auto Scaling group {name:?} does not \
                     exist in {region}; its stack must be deployed there first"
                ),
            ));
        };
        let live_min = live.min_size().unwrap_or(0);
        let live_max = live.max_size().unwrap_or(desired);
        let (min, max) = sizes_for(desired, min_size, live_min, live_max);
        let asg = self.clients.autoscaling(&region).await;
        call(
            self.clients.retry(),
            "autoscaling:UpdateAutoScalingGroup",
            || {
                let mut req = asg
                    .update_auto_scaling_group()
                    .auto_scaling_group_name(&name)
                    .desired_capacity(desired);
                if min != live_min {
                    req = req.min_size(min);
                }
                if max != live_max {
                    req = req.max_size(max);
                }
                req.send()
            },
        )
        .await?;
        if min != live_min || max != live_max {
            tracing::info!(group = %name, min, max, "group bounds moved to fit the desired capacity");
        }
        let g = self
            .describe(&region, &name)
            .await?
            .found_after_update(|| {
                format!(
                    "autoscaling:DescribeAutoScalingGroups: Auto Scaling group {name:?} vanished \
                 while it was scaled"
                )
            })?;
        Ok(Self::observed(&name, &g, inputs))
    }
}

#[async_trait]
impl Provider for GroupCapacityProvider {
    fn kind(&self) -> &'static str {
        kinds::AUTOSCALING_GROUP_CAPACITY
    }

    fn replace_on(&self) -> &'static [&'static str] {
        &["group_name"]
    }

    fn identity(&self) -> Identity {
        Identity::Named(&["group_name"])
    }

    fn validate(&self, _addr: &ResourceAddr, inputs: &Props) -> Result<(), String> {
        schema_check(schema::validate_group_capacity(inputs))
    }

    /// Sets the desired capacity of an existing group; a group that does not exist is an input
    /// error (this resource never creates groups).
    async fn create(&self, ctx: &OpContext, inputs: &Props) -> Result<Observed, ProviderError> {
        self.scale(ctx, inputs, ErrorClass::Invalid).await
    }

    async fn read(
        &self,
        ctx: &OpContext,
        id: &str,
        inputs: &Props,
    ) -> Result<Option<Observed>, ProviderError> {
        let region = region_of(ctx)?;
        Ok(self
            .describe(&region, id)
            .await?
            .map(|g| Self::observed(id, &g, inputs)))
    }

    async fn update(
        &self,
        ctx: &OpContext,
        _id: &str,
        _old: &Props,
        new: &Props,
    ) -> Result<Observed, ProviderError> {
        self.scale(ctx, new, ErrorClass::NotFound).await
    }

    /// Leaves the group alone: it belongs to its stack. Only Tandem's management of its capacity
    /// ends.
    async fn delete(
        &self,
        _ctx: &OpContext,
        _id: &str,
        _inputs: &Props,
    ) -> Result<(), ProviderError> {
        Ok(())
    }

    async fn find(
        &self,
        ctx: &OpContext,
        inputs: &Props,
    ) -> Result<Option<Observed>, ProviderError> {
        let name = req_str(inputs, "group_name")?;
        self.read(ctx, &name, inputs).await
    }
}

#[cfg(test)]
mod tests {
    use super::sizes_for;

    #[test]
    fn desired_capacity_fits_within_the_bounds() {
        // Within: nothing moves.
        assert_eq!(sizes_for(3, None, 1, 4), (1, 4));
        // Above the maximum: the maximum is raised.
        assert_eq!(sizes_for(6, None, 1, 4), (1, 6));
        // Below the minimum: the minimum is lowered.
        assert_eq!(sizes_for(0, None, 2, 4), (0, 4));
        // A named minimum wins, and the maximum follows it.
        assert_eq!(sizes_for(5, Some(5), 1, 4), (5, 5));
        assert_eq!(sizes_for(2, Some(1), 2, 4), (1, 4));
    }
}
