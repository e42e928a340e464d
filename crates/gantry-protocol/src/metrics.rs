//! Prometheus metrics: requests by route and status, latency, bytes in and out, packages by
//! state (read from the database at scrape time).

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use crate::app::App;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct UpstreamLabels {
    upstream: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabels {
    state: String,
}

type HistogramFamily = Family<RouteLabels, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    // 0.5 ms … ~16 s.
    Histogram::new(exponential_buckets(0.0005, 2.0, 16))
}

pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: HistogramFamily,
    bytes_received: Counter,
    bytes_sent: Counter,
    packages: Family<StateLabels, Gauge>,
    jobs: Family<StateLabels, Gauge>,
    upstream_failures: Family<UpstreamLabels, Counter>,
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("gantry");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency: HistogramFamily = Family::new_with_constructor(latency_histogram);
        let bytes_received = Counter::default();
        let bytes_sent = Counter::default();
        let packages = Family::<StateLabels, Gauge>::default();
        registry.register(
            "http_requests",
            "HTTP requests by method, matched route and status",
            requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "Time to the response head, by matched route",
            latency.clone(),
        );
        registry.register(
            "bytes_received",
            "Artifact bytes received in uploads",
            bytes_received.clone(),
        );
        registry.register(
            "bytes_sent",
            "Artifact bytes sent in downloads",
            bytes_sent.clone(),
        );
        registry.register("packages", "Packages by state", packages.clone());
        let jobs = Family::<StateLabels, Gauge>::default();
        registry.register("jobs", "Jobs in the queue by state", jobs.clone());
        let upstream_failures = Family::<UpstreamLabels, Counter>::default();
        registry.register(
            "upstream_failures",
            "Failed fetches from upstreams (served from cache when possible)",
            upstream_failures.clone(),
        );
        Self {
            registry,
            requests,
            latency,
            bytes_received,
            bytes_sent,
            packages,
            jobs,
            upstream_failures,
        }
    }

    /// Where other parts of the server register their own metrics (the caches' counters).
    pub fn registry_mut(&mut self) -> &mut Registry {
        &mut self.registry
    }

    pub fn add_received(&self, bytes: u64) {
        self.bytes_received.inc_by(bytes);
    }

    pub fn upstream_failure(&self, upstream: &str) {
        self.upstream_failures
            .get_or_create(&UpstreamLabels {
                upstream: upstream.to_owned(),
            })
            .inc();
    }

    pub fn add_sent(&self, bytes: u64) {
        self.bytes_sent.inc_by(bytes);
    }

    /// The Prometheus text exposition, with the gauges refreshed from the database's counts.
    pub fn render(
        &self,
        counts: &[(String, i64)],
        job_counts: &[(String, i64)],
    ) -> Result<String, std::fmt::Error> {
        for state in [
            gantry_db::JOB_QUEUED,
            gantry_db::JOB_RUNNING,
            gantry_db::JOB_DEAD,
        ] {
            let n = job_counts
                .iter()
                .find(|(s, _)| s == state)
                .map_or(0, |(_, n)| *n);
            self.jobs
                .get_or_create(&StateLabels {
                    state: state.to_owned(),
                })
                .set(n);
        }
        for state in gantry_core::PackageState::ALL {
            let n = counts
                .iter()
                .find(|(s, _)| s == state.as_str())
                .map_or(0, |(_, n)| *n);
            self.packages
                .get_or_create(&StateLabels {
                    state: state.as_str().to_owned(),
                })
                .set(n);
        }
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)?;
        Ok(out)
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// Middleware recording each routed request.
pub async fn track(State(app): State<Arc<App>>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = request.method().to_string();
    let start = Instant::now();
    let response = next.run(request).await;
    let elapsed = start.elapsed().as_secs_f64();
    let status = response.status().as_u16();
    tracing::debug!(%method, %route, status, elapsed, "request");
    app.metrics
        .requests
        .get_or_create(&RequestLabels {
            method,
            route: route.clone(),
            status,
        })
        .inc();
    app.metrics
        .latency
        .get_or_create(&RouteLabels { route })
        .observe(elapsed);
    response
}
