//! Auto Scaling: the capacity of a group that something else (a CloudFormation stack) owns.
//!
//! # `autoscaling:GroupCapacity` inputs
//! | property | type | default | notes |
//! |---|---|---|---|
//! | `group_name` | string | required | the Auto Scaling group's name; changing it replaces |
//! | `desired_capacity` | int | required | 0 or more |
//! | `min_size` | int | none | 0 to `desired_capacity`; none keeps the group's (lowered if needed) |
//!
//! Outputs: `group_name`, `arn`, `desired_capacity`, `min_size`, `max_size`.
//!
//! The group is scaled through the API of the resource's own region, never through a stack-set
//! deploy: a failover must not depend on the stack set's administration region (it may be the
//! region that is down). Deleting this resource leaves the group as it is: the group belongs to
//! its stack.

use tandem_core::Props;

use crate::kinds;
use crate::props::{PropError, int_of, required_str};

resource_builder!(
    /// The desired capacity of an existing Auto Scaling group, set through its own region's API.
    GroupCapacity,
    kinds::AUTOSCALING_GROUP_CAPACITY
);

setters!(GroupCapacity {
    /// The Auto Scaling group's name (often a stack output).
    group_name => "group_name",
    desired_capacity => "desired_capacity",
    /// The group's minimum size; none keeps the group's own (lowered to the desired capacity).
    min_size => "min_size",
});

/// Validates the inputs of an `autoscaling:GroupCapacity`.
pub fn validate_group_capacity(props: &Props) -> Result<(), PropError> {
    if let Some(name) = required_str(props, "group_name")? {
        if name.chars().count() > 255 {
            return Err(PropError(format!(
                "`group_name` must be 1 to 255 characters long, not {}",
                name.chars().count()
            )));
        }
    }
    if !props.contains_key("desired_capacity") {
        return Err(PropError("`desired_capacity` is required".into()));
    }
    let desired = int_of(props, "desired_capacity")?;
    if let Some(d) = desired {
        if d < 0 {
            return Err(PropError(format!(
                "`desired_capacity` must be 0 or more, not {d}"
            )));
        }
    }
    if let Some(min) = int_of(props, "min_size")? {
        if min < 0 {
            return Err(PropError(format!(
                "`min_size` must be 0 or more, not {min}"
            )));
        }
        if let Some(d) = desired {
            if min > d {
                return Err(PropError(format!(
                    "`min_size` ({min}) must not exceed `desired_capacity` ({d})"
                )));
            }
        }
    }
    for (name, v) in [
        ("desired_capacity", desired),
        ("min_size", int_of(props, "min_size")?),
    ] {
        if let Some(v) = v {
            if i32::try_from(v).is_err() {
                return Err(PropError(format!("`{name}` is out of range: {v}")));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::props_of;
    use tandem_core::{Region, Value};

    fn cap() -> GroupCapacity {
        GroupCapacity::new(&Region::named("us-west-2"), "web-capacity")
            .unwrap()
            .group_name("web-asg")
            .desired_capacity(4)
    }

    #[test]
    fn group_capacity_rules() {
        assert_eq!(
            cap().addr().to_string(),
            "us-west-2/autoscaling:GroupCapacity/web-capacity"
        );
        assert_eq!(validate_group_capacity(&props_of(cap())), Ok(()));
        assert_eq!(
            validate_group_capacity(&props_of(cap().min_size(2))),
            Ok(())
        );
        let e = validate_group_capacity(&props_of(cap().min_size(5))).unwrap_err();
        assert!(e.0.contains("must not exceed"), "{e}");
        let e = validate_group_capacity(&props_of(cap().desired_capacity(-1))).unwrap_err();
        assert!(e.0.contains("0 or more"), "{e}");
        let e = validate_group_capacity(&props_of(cap().desired_capacity("4"))).unwrap_err();
        assert!(e.0.contains("integer"), "{e}");
        let e = validate_group_capacity(&props_of(cap().group_name(""))).unwrap_err();
        assert!(e.0.contains("empty"), "{e}");
        let e = validate_group_capacity(&props_of(cap().desired_capacity(1i64 << 40))).unwrap_err();
        assert!(e.0.contains("out of range"), "{e}");
        let mut missing = props_of(cap());
        missing.remove("desired_capacity");
        assert!(
            validate_group_capacity(&missing)
                .unwrap_err()
                .0
                .contains("required")
        );
        // A reference not yet resolved is skipped.
        let r = Value::reference("us-west-2/cloudformation:Stack/app".parse().unwrap(), "asg");
        assert_eq!(
            validate_group_capacity(&props_of(cap().group_name(r))),
            Ok(())
        );
    }
}
