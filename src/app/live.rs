//! The browser end of the live push (`/ws/live`): one WebSocket that
//! reconnects by itself, feeding signals the page redraws from.

#[cfg(feature = "hydrate")]
use crate::api::live::LiveUpdate;
#[cfg(feature = "hydrate")]
use leptos::prelude::*;

/// Connection state shown in the status line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkState {
    Connecting,
    Live,
    Reconnecting,
}

impl LinkState {
    pub fn label(self) -> &'static str {
        match self {
            LinkState::Connecting => "connecting",
            LinkState::Live => "live",
            LinkState::Reconnecting => "server disconnected, reconnecting…",
        }
    }
}

/// Open the live socket; `on_update` runs for every message. Browser only.
#[cfg(feature = "hydrate")]
pub fn connect(on_update: std::rc::Rc<dyn Fn(LiveUpdate)>, link: RwSignal<LinkState>) {
    use wasm_bindgen::{closure::Closure, JsCast};
    let Some(loc) = web_sys::window().map(|w| w.location()) else {
        return;
    };
    let proto = if loc.protocol().as_deref() == Ok("https:") {
        "wss"
    } else {
        "ws"
    };
    let Ok(host) = loc.host() else { return };
    let retry = {
        let on_update = on_update.clone();
        move || {
            link.set(LinkState::Reconnecting);
            let on_update = on_update.clone();
            set_timeout(
                move || connect(on_update, link),
                std::time::Duration::from_millis(1500),
            );
        }
    };
    let ws = match web_sys::WebSocket::new(&format!("{proto}://{host}/ws/live")) {
        Ok(ws) => ws,
        Err(_) => return retry(),
    };
    let onopen = Closure::<dyn FnMut()>::new(move || link.set(LinkState::Live));
    let onmessage =
        Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |ev: web_sys::MessageEvent| {
            if let Some(text) = ev.data().as_string() {
                if let Ok(u) = serde_json::from_str::<LiveUpdate>(&text) {
                    on_update(u);
                }
            }
        });
    // One reconnect per socket, whichever of close/error fires first.
    let fired = std::rc::Rc::new(std::cell::Cell::new(false));
    let onclose = Closure::<dyn FnMut()>::new(move || {
        if !fired.replace(true) {
            retry();
        }
    });
    ws.set_onopen(Some(onopen.as_ref().unchecked_ref()));
    ws.set_onmessage(Some(onmessage.as_ref().unchecked_ref()));
    ws.set_onclose(Some(onclose.as_ref().unchecked_ref()));
    // The socket owns its handlers for its whole life; a reconnect makes new ones.
    onopen.forget();
    onmessage.forget();
    onclose.forget();
}
