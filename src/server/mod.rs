//! Wiring for `pairdesk serve`: open the store, start the writer, pick and
//! start the market source, serve the dashboard, and shut down cleanly.
//!
//! Shutdown order matters: stop accepting requests, stop the sources, flush
//! the pipeline into the writer, then let the writer commit and exit. Every
//! step has a deadline so SIGINT/SIGTERM exits within two seconds.

pub mod source;

use crate::app::{shell, App};
use crate::config::Config;
use crate::ingest::pipeline::Pipeline;
use crate::state::AppState;
use crate::store;
use crate::store::writer::Writer;
use crate::store::{SqliteStore, Store};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use leptos::prelude::*;
use leptos_axum::{generate_route_list, handle_server_fns_with_context, LeptosRoutes};
use source::{start_source, Started};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Where the compiled client (`pkg/`) and public assets live: LEPTOS_SITE_ROOT,
/// else `site/` next to the binary or one level up (target/release/../site),
/// else ./target/site.
pub fn site_root() -> PathBuf {
    if let Ok(r) = std::env::var("LEPTOS_SITE_ROOT") {
        return PathBuf::from(r);
    }
    if let Some(dir) = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(|d| d.to_path_buf()))
    {
        for cand in [dir.join("site"), dir.join("../site")] {
            if cand.join("pkg").is_dir() {
                return cand;
            }
        }
    }
    PathBuf::from("target/site")
}

/// Resolves on Ctrl+C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}

/// Largest request body accepted by server functions.
pub const BODY_LIMIT: usize = 64 * 1024;

async fn server_fn_handler(
    State(state): State<RouterState>,
    req: Request<Body>,
) -> impl IntoResponse {
    let app = state.app.clone();
    handle_server_fns_with_context(move || provide_context(app.clone()), req).await
}

#[derive(Clone, axum::extract::FromRef)]
struct RouterState {
    leptos_options: LeptosOptions,
    app: Arc<AppState>,
}

/// Build the HTTP router for `state`.
pub fn router(state: Arc<AppState>, leptos_options: LeptosOptions) -> Router {
    let routes = generate_route_list(App);
    let rs = RouterState {
        leptos_options: leptos_options.clone(),
        app: state.clone(),
    };
    let router = Router::new()
        .route(
            "/api/{*fn_name}",
            get(server_fn_handler).post(server_fn_handler),
        )
        .route("/ws/live", get(crate::api::live::live_ws))
        .route(
            "/api/v1/upload",
            axum::routing::post(crate::api::upload::upload).layer(
                axum::extract::DefaultBodyLimit::max(crate::api::upload::UPLOAD_BODY_LIMIT),
            ),
        )
        .leptos_routes_with_context(
            &rs,
            routes,
            {
                let s = state.clone();
                move || {
                    provide_context(s.clone());
                    crate::api::security::provide_page_csp();
                }
            },
            {
                let o = leptos_options.clone();
                move || shell(o.clone())
            },
        )
        // /api/v1/*, /api/openapi.json and /docs are static prefixes, which
        // axum's router prefers over the server functions' /api/{*fn_name}.
        .merge(crate::api::rest::router(state.clone()))
        .merge(crate::api::openapi::router())
        .merge(crate::api::security::router(state.clone()))
        .fallback(leptos_axum::file_and_error_handler_with_context::<
            RouterState,
            _,
        >(crate::api::security::provide_page_csp, shell))
        .layer(axum::extract::DefaultBodyLimit::max(BODY_LIMIT))
        // Outermost last: metrics time everything, including refusals.
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::api::security::guard,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state,
            crate::api::metrics::track,
        ))
        .with_state(rs);
    crate::api::security::with_security_headers(router)
}

/// `pairdesk serve`: run until a shutdown signal.
pub async fn serve(config: Config) -> anyhow::Result<()> {
    let durability = config.durability();
    let conn = store::open_writer(&config.db, durability)?;
    let reads: Arc<dyn Store> = Arc::new(SqliteStore::new(&config.db));
    let base_ticks = reads.tick_count()?;
    // Retention applies to serving only: a replay of old data must not prune it.
    let writer = Writer::spawn_with(
        conn,
        1024,
        crate::store::writer::WriterOptions {
            retain: config.retain,
            retain_1s: config.retain_1s,
            retain_1m: config.retain_1m,
            ..Default::default()
        },
    );
    let pipeline = Pipeline::with_limits(writer.tx.clone(), config.tick_limits);
    // Two stages: `signal` stops the HTTP server, then `stop` every task
    // (sources, backfill, the alert engine), which all run on `tasks`.
    let (signal, stop, tasks) = (
        CancellationToken::new(),
        CancellationToken::new(),
        TaskTracker::new(),
    );
    let Started {
        source,
        venue,
        label: source_label,
        simulated,
    } = start_source(
        &config,
        pipeline.clone(),
        stop.clone(),
        &tasks,
        Some(reads.as_ref()),
    )
    .await?;

    let mut leptos_options = leptos::config::get_configuration(None)
        .map(|c| c.leptos_options)
        .unwrap_or_else(|_| LeptosOptions::builder().output_name("pairdesk").build());
    leptos_options.output_name = "pairdesk".into();
    leptos_options.site_root = site_root().display().to_string().into();
    leptos_options.site_addr = config.listen;

    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", config.listen))?;
    let state = Arc::new(AppState {
        venue,
        source_label: source_label.clone(),
        simulated,
        base_ticks,
        subscriptions: source.subscriptions(),
        ..AppState::new(config.clone(), pipeline.clone(), &writer, reads)
    });
    tracing::info!(
        listen = %config.listen,
        db = %config.db.display(),
        source = %source_label,
        site_root = %leptos_options.site_root,
        "pairdesk serving on http://{}", config.listen
    );
    tasks.spawn(crate::services::alerts::run(state.engine(), stop.clone()));
    tasks.spawn(crate::services::paper::run(
        crate::services::paper::Engine {
            store: state.store.clone(),
        },
        stop.clone(),
    ));
    let (conns, net) = (state.conns.clone(), state.net.clone());
    let app = router(state, leptos_options);
    // Dropped on every way out of here (an error included): the tasks are
    // told to stop even when the server fails.
    let _stop_on_exit = stop.clone().drop_guard();
    {
        let signal = signal.clone();
        tokio::spawn(async move {
            shutdown_signal().await;
            signal.cancel();
        });
    }
    let server = crate::http::accept::serve(
        listener,
        app,
        &config.http,
        conns,
        net,
        signal.clone().cancelled_owned(),
    );
    tokio::select! {
        r = server => r?,
        // In-flight requests get a short grace period, long polls do not hold us.
        _ = async { signal.cancelled().await; tokio::time::sleep(Duration::from_millis(700)).await } => {}
    }
    tracing::info!("shutting down: stopping sources and flushing ticks");
    stop.cancel();
    tasks.close();
    if tokio::time::timeout(Duration::from_millis(800), tasks.wait())
        .await
        .is_err()
    {
        tracing::warn!(running = tasks.len(), "tasks did not stop in time");
    }
    // The mock exchange (if any) stops now that its client has let go.
    drop(source);
    if tokio::time::timeout(Duration::from_millis(500), pipeline.flush())
        .await
        .is_err()
    {
        tracing::warn!("flush timed out");
    }
    drop(pipeline);
    let _ = tokio::time::timeout(
        Duration::from_millis(300),
        tokio::task::spawn_blocking(move || writer.shutdown()),
    )
    .await;
    tracing::info!("stopped");
    Ok(())
}
