//! Upload a recording from the page, with a progress bar and the server's
//! per-line report; then open the uploaded pair.

use crate::api::upload::UploadReport;
use leptos::prelude::*;

// Only the browser build sends files, so only it builds the later states.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
#[derive(Debug, Clone, PartialEq)]
enum UploadState {
    Idle,
    Sending(f64),
    Done(UploadReport),
    Failed(String),
}

#[component]
pub fn Upload() -> impl IntoView {
    let navigate = leptos_router::hooks::use_navigate();
    let state = RwSignal::new(UploadState::Idle);
    let input = NodeRef::<leptos::html::Input>::new();
    let start = move |_| {
        #[cfg(feature = "hydrate")]
        if let Some(el) = input.get() {
            send(&el, state);
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = (input, state);
    };
    let open_uploaded = move |r: &UploadReport| {
        let (a, b) = (r.symbols.first().cloned(), r.symbols.get(1).cloned());
        (a, b)
    };
    view! {
        <section class="upload" aria-label="Upload a recording">
            <h3>"Upload a recording"</h3>
            <p class="hint">"NDJSON (collector format or raw Binance frames) or CSV (timestamp,symbol,price,qty), up to 32 MiB. Stored as replay data."</p>
            <input type="file" node_ref=input data-testid="upload-file" accept=".ndjson,.json,.jsonl,.csv,.txt" aria-label="Recording file" />
            <button data-testid="upload-send" on:click=start>"Upload"</button>
            <div data-testid="upload-result">
                {move || match state.get() {
                    UploadState::Idle => ().into_any(),
                    UploadState::Sending(p) => view! { <progress max="100" value=format!("{:.0}", p * 100.0)></progress> }.into_any(),
                    UploadState::Failed(e) => view! { <p class="field-error" role="alert">{e}</p> }.into_any(),
                    UploadState::Done(r) => {
                        let bad = r.malformed_lines.iter().chain(&r.refused_lines).map(|(n, why)| view! { <li>{format!("line {n}: {why}")}</li> }).collect_view();
                        let refused: u64 = r.refused.values().sum();
                        let (a, b) = open_uploaded(&r);
                        let open = match (a, b) {
                            (Some(a), Some(b)) => {
                                let navigate = navigate.clone();
                                Some(view! {
                                    <button data-testid="upload-open" on:click=move |_| navigate(&format!("/?x={a}&y={b}&src=replay&tf=1s"), Default::default())>
                                        "Open the uploaded pair"
                                    </button>
                                })
                            }
                            _ => None,
                        };
                        view! {
                            <p data-testid="upload-summary">
                                {format!("{} lines, {} ticks ({} new), {} malformed, {} refused, symbols: {}", r.lines, r.ticks, r.inserted, r.malformed, refused, r.symbols.join(", "))}
                            </p>
                            <ul class="bad-lines" data-testid="upload-errors">{bad}</ul>
                            {open}
                        }.into_any()
                    }
                }}
            </div>
        </section>
    }
}

/// POST the chosen file with XMLHttpRequest (fetch has no upload progress).
#[cfg(feature = "hydrate")]
fn send(el: &web_sys::HtmlInputElement, state: RwSignal<UploadState>) {
    use wasm_bindgen::{closure::Closure, JsCast};
    let Some(file) = el.files().and_then(|f| f.get(0)) else {
        state.set(UploadState::Failed("choose a file first".into()));
        return;
    };
    if file.size() > crate::api::upload::UPLOAD_BODY_LIMIT as f64 {
        state.set(UploadState::Failed(format!(
            "{} is larger than the 32 MiB limit",
            file.name()
        )));
        return;
    }
    let Ok(xhr) = web_sys::XmlHttpRequest::new() else {
        return;
    };
    if xhr.open("POST", "/api/v1/upload").is_err() {
        return;
    }
    state.set(UploadState::Sending(0.0));
    if let Ok(up) = xhr.upload() {
        let progress =
            Closure::<dyn FnMut(web_sys::ProgressEvent)>::new(move |e: web_sys::ProgressEvent| {
                if e.length_computable() && e.total() > 0.0 {
                    state.set(UploadState::Sending(e.loaded() / e.total()));
                }
            });
        up.set_onprogress(Some(progress.as_ref().unchecked_ref()));
        progress.forget();
    }
    let x = xhr.clone();
    let done = Closure::<dyn FnMut()>::new(move || {
        let body = x.response_text().ok().flatten().unwrap_or_default();
        let status = x.status().unwrap_or(0);
        state.set(
            match (status, serde_json::from_str::<UploadReport>(&body)) {
                (200, Ok(r)) => UploadState::Done(r),
                _ => {
                    let msg = serde_json::from_str::<serde_json::Value>(&body)
                        .ok()
                        .and_then(|v| v["error"]["message"].as_str().map(String::from))
                        .unwrap_or_else(|| format!("upload failed (HTTP {status})"));
                    UploadState::Failed(msg)
                }
            },
        );
    });
    xhr.set_onloadend(Some(done.as_ref().unchecked_ref()));
    done.forget();
    if xhr.send_with_opt_blob(Some(&file)).is_err() {
        state.set(UploadState::Failed(
            "the browser refused to send the file".into(),
        ));
    }
}
