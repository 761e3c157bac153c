//! Prints the template of the stack set's roles (administration and execution), the one the
//! program deploys as the `stackset-roles` stack, for `tests/lint_template.sh`. It takes the
//! environment's name as its `EnvName` parameter, so that it is the same for every environment.

fn main() {
    println!(
        "{}",
        tandem_stack_multi_region::program::stackset_roles_template()
    );
}
