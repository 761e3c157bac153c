//! The local cloud's [`OutageSimulator`]: the region gateway refuses every connection to the
//! region's API and application (and, for `us-east-1`, to the global services whose control
//! planes live there), as a lost region would.

use async_trait::async_trait;
use tandem_engine::State;
use tandem_failover::outage::OutageSimulator;
use tandem_failover::{Context, Posture};

use crate::{BlackholeMode, GatewayControl};

/// Outages made by the region gateway's control API.
pub struct GatewayOutage {
    control: GatewayControl,
}

impl GatewayOutage {
    /// Outages through the control API at `control_url` (`http://127.0.0.1:PORT`).
    pub fn new(control_url: impl Into<String>) -> GatewayOutage {
        GatewayOutage {
            control: GatewayControl::new(control_url),
        }
    }
}

#[async_trait]
impl OutageSimulator for GatewayOutage {
    fn method(&self) -> String {
        "the region gateway refuses the region's API and application".into()
    }

    async fn apply(
        &self,
        _ctx: &Context<'_>,
        _state: &mut State,
        _posture: &Posture,
        region: &str,
        cut: bool,
    ) -> Result<(), String> {
        let answer = if cut {
            self.control.blackhole(region, BlackholeMode::Refuse).await
        } else {
            self.control.restore(region).await
        };
        answer.map(|_| ()).map_err(|e| {
            format!("the region gateway did not answer ({e}); is the local cloud up? (`tandem local up`)")
        })
    }
}
