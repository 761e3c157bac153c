//! The typed client of the gateway's control API.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::calls::{CallLogSnapshot, FaultStats};
use crate::error::{Error, Result};
use crate::fault::{BlackholeMode, Fault, FaultTable};

/// How long one control request may take.
const CONTROL_TIMEOUT: Duration = Duration::from_secs(5);

/// A client of a region gateway's control API, e.g. `GatewayControl::new("http://127.0.0.1:4511")`.
///
/// Every call is one HTTP request; the answer of a fault change is the new [`FaultTable`].
#[derive(Debug, Clone)]
pub struct GatewayControl {
    base: String,
    client: Client<HttpConnector, Full<Bytes>>,
}

impl GatewayControl {
    /// A client of the control API at `control_url` (`http://127.0.0.1:PORT`).
    pub fn new(control_url: impl Into<String>) -> Self {
        GatewayControl {
            base: control_url.into().trim_end_matches('/').to_owned(),
            client: Client::builder(TokioExecutor::new()).build_http(),
        }
    }

    /// The control API's base URL.
    pub fn url(&self) -> &str {
        &self.base
    }

    /// Takes every service of `region` down (its application health endpoint included).
    pub async fn blackhole(&self, region: &str, mode: BlackholeMode) -> Result<FaultTable> {
        self.set_fault(region, Fault::blackhole(mode)).await
    }

    /// Sets the fault of `fault.service` in `region`, replacing the one it had; a fault that does
    /// nothing removes it. `region` may be [`crate::GLOBAL`].
    pub async fn set_fault(&self, region: &str, fault: Fault) -> Result<FaultTable> {
        let body = serde_json::to_vec(&fault).map_err(|err| {
            self.error(
                "PUT",
                &format!("/faults/{region}"),
                format!("cannot encode the fault: {err}"),
            )
        })?;
        self.table("PUT", &format!("/faults/{region}"), body).await
    }

    /// Removes every fault of `region`.
    pub async fn restore(&self, region: &str) -> Result<FaultTable> {
        self.table("DELETE", &format!("/faults/{region}"), Vec::new())
            .await
    }

    /// Removes every fault of every region.
    pub async fn restore_all(&self) -> Result<FaultTable> {
        self.table("DELETE", "/faults", Vec::new()).await
    }

    /// The current fault table.
    pub async fn faults(&self) -> Result<FaultTable> {
        self.table("GET", "/faults", Vec::new()).await
    }

    /// Every distinct (service, action, region) the gateway has forwarded a signed request for,
    /// since it started or since [`clear_calls`](Self::clear_calls).
    pub async fn calls(&self) -> Result<CallLogSnapshot> {
        let body = self.call("GET", "/calls", Vec::new()).await?;
        serde_json::from_slice(&body)
            .map_err(|err| self.error("GET", "/calls", format!("bad call log: {err}")))
    }

    /// What the faults did to the requests since the gateway started or since
    /// [`clear_calls`](Self::clear_calls): requests, throttled, failed, delayed, blackholed.
    pub async fn stats(&self) -> Result<FaultStats> {
        let body = self.call("GET", "/stats", Vec::new()).await?;
        serde_json::from_slice(&body)
            .map_err(|err| self.error("GET", "/stats", format!("bad stats: {err}")))
    }

    /// Empties the call log (and the fault statistics).
    pub async fn clear_calls(&self) -> Result<()> {
        self.call("DELETE", "/calls", Vec::new()).await.map(drop)
    }

    /// Reseeds the random source behind the fault rates.
    pub async fn reseed(&self, seed: u64) -> Result<()> {
        let body = serde_json::json!({ "seed": seed }).to_string().into_bytes();
        self.call("PUT", "/seed", body).await.map(drop)
    }

    /// The gateway's own health: `Ok` with its endpoints (`moto`, `global`, `control`, `regions`)
    /// when it answers.
    pub async fn health(&self) -> Result<serde_json::Value> {
        let body = self.call("GET", "/health", Vec::new()).await?;
        let value: serde_json::Value = serde_json::from_slice(&body)
            .map_err(|err| self.error("GET", "/health", format!("bad JSON: {err}")))?;
        Ok(value.get("endpoints").cloned().unwrap_or_default())
    }

    async fn table(&self, method: &str, path: &str, body: Vec<u8>) -> Result<FaultTable> {
        let answer = self.call(method, path, body).await?;
        serde_json::from_slice(&answer)
            .map_err(|err| self.error(method, path, format!("bad fault table: {err}")))
    }

    fn error(&self, method: &str, path: &str, reason: String) -> Error {
        Error::Control {
            method: method.to_owned(),
            url: format!("{}{path}", self.base),
            reason,
        }
    }

    /// One request; the body of a 2xx answer, an error naming the URL otherwise.
    async fn call(&self, method: &str, path: &str, body: Vec<u8>) -> Result<Bytes> {
        let url = format!("{}{path}", self.base);
        let request = hyper::Request::builder()
            .method(method)
            .uri(&url)
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body)))
            .map_err(|err| self.error(method, path, err.to_string()))?;
        let answered = tokio::time::timeout(CONTROL_TIMEOUT, async {
            let response = self.client.request(request).await?;
            let status = response.status();
            let body = response.into_body().collect().await?.to_bytes();
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>((status, body))
        })
        .await;
        let (status, body) = match answered {
            Ok(Ok(answer)) => answer,
            Ok(Err(err)) => return Err(self.error(method, path, error_chain(err.as_ref()))),
            Err(_) => {
                return Err(self.error(
                    method,
                    path,
                    format!("no answer within {} s", CONTROL_TIMEOUT.as_secs()),
                ));
            }
        };
        if status.is_success() {
            return Ok(body);
        }
        let message = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v.get("error")?.as_str().map(str::to_owned))
            .unwrap_or_else(|| String::from_utf8_lossy(&body).trim().to_owned());
        Err(self.error(method, path, format!("HTTP {status}: {message}")))
    }
}

fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
