//! CloudFormation: single-region stacks, and stack sets with one instance resource per region.
//!
//! # `cloudformation:Stack` inputs
//! `stack_name` (required; replaces), `template_body` (required), `parameters` (map of strings),
//! `capabilities` (list), `tags`. Outputs: `stack_id` and every stack output under its own key.
//!
//! # `cloudformation:StackSet` inputs
//! Addressed in its administration region. `stack_set_name` (required; replaces), `template_body`
//! (required), `parameters` (map), `administration_role_arn` (required, the
//! `AWSCloudFormationStackSetAdministrationRole`), `execution_role_name`
//! (`AWSCloudFormationStackSetExecutionRole`), `capabilities`, `description`, `tags`.
//! Self-managed permissions. Outputs: `stack_set_name`, `stack_set_id`, `arn`, `admin_region`.
//!
//! # `cloudformation:StackInstance` inputs
//! Addressed in its target region. `stack_set_name` (required; replaces), `admin_region` (the stack
//! set's region, required; replaces), `account` (default: the caller's account; replaces),
//! `parameter_overrides` (map), `region_order` (list; default this region), `region_concurrency`
//! (SEQUENTIAL|PARALLEL, default SEQUENTIAL), `failure_tolerance_count`, `max_concurrent_count`.
//! Outputs: `stack_id` and every output of the instance's stack under its own key.

use tandem_core::Props;

use crate::kinds;
use crate::props::{
    PropError, check_string_list, check_string_map, check_tags, int_of, required_str, str_of,
};
use crate::regions;

resource_builder!(
    /// A CloudFormation stack in one region.
    Stack,
    kinds::CLOUDFORMATION_STACK
);

setters!(Stack {
    stack_name => "stack_name",
    template_body => "template_body",
    /// A map of parameter name to value.
    parameters => "parameters",
    capabilities => "capabilities",
});

resource_builder!(
    /// A self-managed stack set, addressed in its administration region.
    StackSet,
    kinds::CLOUDFORMATION_STACK_SET
);

setters!(StackSet {
    stack_set_name => "stack_set_name",
    template_body => "template_body",
    parameters => "parameters",
    administration_role_arn => "administration_role_arn",
    execution_role_name => "execution_role_name",
    capabilities => "capabilities",
    description => "description",
});

resource_builder!(
    /// One region's instance of a stack set, addressed in that region.
    StackInstance,
    kinds::CLOUDFORMATION_STACK_INSTANCE
);

setters!(StackInstance {
    stack_set_name => "stack_set_name",
    admin_region => "admin_region",
    account => "account",
    /// A map of parameter name to value, for this region only.
    parameter_overrides => "parameter_overrides",
    region_order => "region_order",
    region_concurrency => "region_concurrency",
    failure_tolerance_count => "failure_tolerance_count",
    max_concurrent_count => "max_concurrent_count",
});

fn check_name(props: &Props, key: &str) -> Result<(), PropError> {
    if let Some(n) = required_str(props, key)? {
        let ok = n.len() <= 128
            && n.as_bytes()[0].is_ascii_alphabetic()
            && n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if !ok {
            return Err(PropError(format!(
                "`{key}` {n:?} is invalid: begin with a letter, then letters, digits and `-` (at most 128)"
            )));
        }
    }
    Ok(())
}

fn check_template(props: &Props) -> Result<(), PropError> {
    if let Some(body) = required_str(props, "template_body")? {
        if body.len() > 51_200 {
            return Err(PropError(format!(
                "`template_body` is {} bytes; CloudFormation accepts at most 51200 inline",
                body.len()
            )));
        }
    }
    Ok(())
}

/// Validates the inputs of a `cloudformation:Stack`.
pub fn validate_stack(props: &Props) -> Result<(), PropError> {
    check_name(props, "stack_name")?;
    check_template(props)?;
    check_string_map(props, "parameters")?;
    check_string_list(props, "capabilities")?;
    check_tags(props)
}

/// Validates the inputs of a `cloudformation:StackSet`.
pub fn validate_stack_set(props: &Props) -> Result<(), PropError> {
    check_name(props, "stack_set_name")?;
    check_template(props)?;
    check_string_map(props, "parameters")?;
    check_string_list(props, "capabilities")?;
    if let Some(arn) = required_str(props, "administration_role_arn")? {
        if !arn.starts_with("arn:") || !arn.contains(":iam::") {
            return Err(PropError(format!(
                "`administration_role_arn` must be an IAM role ARN, not {arn:?}"
            )));
        }
    }
    str_of(props, "execution_role_name")?;
    str_of(props, "description")?;
    check_tags(props)
}

/// Validates the inputs of a `cloudformation:StackInstance`.
pub fn validate_stack_instance(props: &Props) -> Result<(), PropError> {
    required_str(props, "stack_set_name")?;
    if let Some(r) = required_str(props, "admin_region")? {
        regions::check_region(r).map_err(PropError)?;
    }
    if let Some(a) = str_of(props, "account")? {
        if a.len() != 12 || !a.bytes().all(|b| b.is_ascii_digit()) {
            return Err(PropError(format!(
                "`account` must be a 12-digit account id, not {a:?}"
            )));
        }
    }
    check_string_map(props, "parameter_overrides")?;
    check_string_list(props, "region_order")?;
    if let Some(c) = str_of(props, "region_concurrency")? {
        if c != "SEQUENTIAL" && c != "PARALLEL" {
            return Err(PropError(format!(
                "`region_concurrency` must be SEQUENTIAL or PARALLEL, not {c:?}"
            )));
        }
    }
    for k in ["failure_tolerance_count", "max_concurrent_count"] {
        if let Some(n) = int_of(props, k)? {
            if n < 0 || (k == "max_concurrent_count" && n == 0) {
                return Err(PropError(format!("`{k}` must be positive, not {n}")));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::props_of;
    use tandem_core::{Region, map};

    #[test]
    fn stack_instance_rules() {
        let i = StackInstance::new(&Region::named("us-west-2"), "app")
            .unwrap()
            .stack_set_name("app")
            .admin_region("us-east-1")
            .parameter_overrides(map([("Cidr", "10.1.0.0/16")]));
        assert_eq!(validate_stack_instance(&props_of(i.clone())), Ok(()));
        let e = validate_stack_instance(&props_of(i.region_concurrency("RANDOM"))).unwrap_err();
        assert!(e.0.contains("SEQUENTIAL"), "{e}");
        let s = StackSet::new(&Region::named("us-east-1"), "app")
            .unwrap()
            .stack_set_name("app")
            .template_body("{}")
            .administration_role_arn("not-an-arn");
        assert!(
            validate_stack_set(&props_of(s))
                .unwrap_err()
                .0
                .contains("IAM role")
        );
    }
}
