#![allow(unreachable_pub)]

//! A real HTTP webhook receiver on 127.0.0.1 that records what it gets and answers with
//! scripted statuses.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use serde_json::Value;

use crate::common::TestResult;

#[derive(Debug, Clone)]
pub struct Hit {
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Hit {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }

    pub fn event(&self) -> String {
        self.json()["event"].as_str().unwrap_or_default().to_owned()
    }
}

#[derive(Default)]
struct Shared {
    hits: Mutex<Vec<Hit>>,
    script: Mutex<VecDeque<u16>>,
}

pub struct Receiver {
    pub url: String,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

async fn hook(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let status = shared
        .script
        .lock()
        .ok()
        .and_then(|mut s| s.pop_front())
        .unwrap_or(200);
    if let Ok(mut hits) = shared.hits.lock() {
        hits.push(Hit {
            headers,
            body: body.to_vec(),
        });
    }
    StatusCode::from_u16(status).unwrap_or(StatusCode::OK)
}

impl Receiver {
    /// Starts a receiver whose first answers follow `script` (then 200).
    pub async fn start(script: &[u16]) -> TestResult<Self> {
        let shared = Arc::new(Shared::default());
        if let Ok(mut s) = shared.script.lock() {
            s.extend(script.iter().copied());
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}/hook", listener.local_addr()?);
        let app = Router::new()
            .route("/hook", post(hook))
            .with_state(Arc::clone(&shared));
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self { url, shared, task })
    }

    pub fn hits(&self) -> Vec<Hit> {
        self.shared
            .hits
            .lock()
            .map(|h| h.clone())
            .unwrap_or_default()
    }

    /// Waits until `pred` holds for the hits so far (at most 30 s).
    pub async fn wait_for<F: Fn(&[Hit]) -> bool>(
        &self,
        what: &str,
        pred: F,
    ) -> TestResult<Vec<Hit>> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let hits = self.hits();
            if pred(&hits) {
                return Ok(hits);
            }
            if Instant::now() > deadline {
                let events: Vec<String> = hits.iter().map(Hit::event).collect();
                return Err(format!("timed out waiting for {what}; got {events:?}").into());
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}
