//! `tandem template`: the regional CloudFormation template the stack set deploys.

use crate::error::{Exit, Result};

pub fn run() -> Result<Exit> {
    println!(
        "{}",
        tandem_stack_multi_region::template::regional_template()
    );
    Ok(Exit::Success)
}
