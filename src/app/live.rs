//! The browser end of the live push (`/ws/live`): one WebSocket that
//! reconnects by itself, feeding signals the page redraws from.

#[cfg(feature = "hydrate")]
use crate::model::live::LiveUpdate;
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

#[cfg(feature = "hydrate")]
thread_local! {
    /// The open socket, and the symbols whose prices the page wants: sent
    /// when they change and again on every (re)connect.
    static SOCKET: std::cell::RefCell<Option<web_sys::WebSocket>> = const { std::cell::RefCell::new(None) };
    static WATCH: std::cell::RefCell<Vec<String>> = const { std::cell::RefCell::new(Vec::new()) };
}

#[cfg(feature = "hydrate")]
fn send_watch() {
    let msg = WATCH.with(|w| {
        serde_json::to_string(&crate::model::live::Watch {
            watch: w.borrow().clone(),
        })
    });
    let Ok(msg) = msg else { return };
    SOCKET.with(|s| {
        if let Some(ws) = s.borrow().as_ref() {
            if ws.ready_state() == web_sys::WebSocket::OPEN {
                let _ = ws.send_with_str(&msg);
            }
        }
    });
}

/// Ask the server to push the newest trades of `symbols` (the pair on screen).
#[cfg(feature = "hydrate")]
pub fn watch(symbols: Vec<String>) {
    let changed = WATCH.with(|w| {
        let mut w = w.borrow_mut();
        let changed = *w != symbols;
        *w = symbols;
        changed
    });
    if changed {
        send_watch();
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
    let onopen = Closure::<dyn FnMut()>::new(move || {
        link.set(LinkState::Live);
        send_watch();
    });
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
    SOCKET.with(|s| *s.borrow_mut() = Some(ws.clone()));
    // The socket owns its handlers for its whole life; a reconnect makes new ones.
    onopen.forget();
    onmessage.forget();
    onclose.forget();
}
