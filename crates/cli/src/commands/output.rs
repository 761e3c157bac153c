//! `tandem output [NAME] [--json]`: the stack's outputs, as the state records them.

use std::collections::BTreeMap;

use tandem_core::Value;
use tandem_engine::ops;

use crate::error::{Error, Exit, Result};
use crate::render;
use crate::workspace::Workspace;

pub fn run(ws: &Workspace, name: Option<&str>, json: bool) -> Result<Exit> {
    let (state, _) = ops::read_state(&ws.store, &ws.stack, &ws.env.name)?;
    let outputs: BTreeMap<String, Value> = match name {
        Some(n) => {
            let v = state
                .outputs
                .get(n)
                .ok_or_else(|| Error::Config(format!("no output named {n:?}")))?;
            if !json {
                match v {
                    Value::String(s) => println!("{s}"),
                    other => println!("{}", other.render()),
                }
                return Ok(Exit::Success);
            }
            [(n.to_string(), v.clone())].into_iter().collect()
        }
        None => state.outputs.clone(),
    };
    if json {
        let j: serde_json::Map<String, serde_json::Value> = outputs
            .iter()
            .map(|(k, v)| (k.clone(), v.to_json()))
            .collect();
        println!("{}", serde_json::to_string_pretty(&j)?);
    } else {
        print!("{}", render::outputs_text(&outputs));
    }
    Ok(Exit::Success)
}
