//! Connection slots for the HTTP listeners (MCP and console; the sidecar), so that idle
//! sockets cannot lock anyone out. Accepting never waits. Each connection holds a slot
//! while it is open; it is *busy* from a request's arrival until its response body ends,
//! and *idle* otherwise. When every slot is taken, or the peer's share is, a new
//! connection takes the slot of the longest-idle connection (of that peer first), which is
//! closed; only when every slot is busy is the new connection refused. With the short
//! deadline for a request's headers (idle sockets are closed after it anyway), a local
//! process that opens a thousand sockets and sends nothing delays no one.

use std::collections::HashMap;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Instant;

use http_body::{Body, Frame, SizeHint};
use tokio_util::sync::CancellationToken;

/// The slots of one listener.
#[derive(Debug)]
pub struct Slots {
    max: usize,
    per_peer: usize,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    next: u64,
    open: HashMap<u64, Slot>,
}

#[derive(Debug)]
struct Slot {
    peer: IpAddr,
    /// Requests in flight (a response still streaming counts).
    busy: u32,
    idle_since: Instant,
    /// Cancelled when another connection takes this slot: the connection shuts down.
    evict: CancellationToken,
}

/// A connection's slot, given back when it is dropped.
#[derive(Debug)]
pub struct Held {
    slots: Arc<Slots>,
    id: u64,
    /// Cancelled when the slot is taken by a newer connection: close the connection.
    pub evicted: CancellationToken,
}

/// A request in flight on a connection: the slot is busy until this is dropped.
#[derive(Debug)]
pub struct Busy {
    held: Arc<Held>,
}

impl Slots {
    /// At most `max` connections, `per_peer` of them from one address.
    pub fn new(max: usize, per_peer: usize) -> Arc<Slots> {
        Arc::new(Slots { max, per_peer, inner: Mutex::new(Inner::default()) })
    }

    /// A slot for a new connection from `peer`; `None` when every slot it could take is
    /// busy.
    pub fn admit(self: &Arc<Self>, peer: IpAddr) -> Option<Held> {
        let mut inner = self.inner.lock().ok()?;
        let from_peer = inner.open.values().filter(|s| s.peer == peer).count();
        let full = inner.open.len() >= self.max;
        if from_peer >= self.per_peer || full {
            let only_peer = from_peer >= self.per_peer;
            let oldest = inner
                .open
                .iter()
                .filter(|(_, s)| s.busy == 0 && (!only_peer || s.peer == peer))
                .min_by_key(|(_, s)| s.idle_since)
                .map(|(id, _)| *id)?;
            if let Some(slot) = inner.open.remove(&oldest) {
                slot.evict.cancel();
            }
        }
        inner.next += 1;
        let id = inner.next;
        let evicted = CancellationToken::new();
        inner.open.insert(id, Slot { peer, busy: 0, idle_since: Instant::now(), evict: evicted.clone() });
        Some(Held { slots: self.clone(), id, evicted })
    }

    /// Connections open.
    pub fn open(&self) -> usize {
        self.inner.lock().map(|i| i.open.len()).unwrap_or(0)
    }

    fn set(&self, id: u64, busy: bool) {
        if let Ok(mut inner) = self.inner.lock()
            && let Some(slot) = inner.open.get_mut(&id)
        {
            if busy {
                slot.busy += 1;
            } else {
                slot.busy = slot.busy.saturating_sub(1);
                slot.idle_since = Instant::now();
            }
        }
    }
}

impl Held {
    /// Marks a request in flight until the returned guard is dropped.
    pub fn busy(self: &Arc<Self>) -> Busy {
        self.slots.set(self.id, true);
        Busy { held: self.clone() }
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.held.slots.set(self.held.id, false);
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        if let Ok(mut inner) = self.slots.inner.lock() {
            inner.open.remove(&self.id);
        }
    }
}

/// A response body that keeps its connection busy until it ends (a long stream is not
/// idle).
pub struct Guarded<B> {
    inner: B,
    _busy: Busy,
}

impl<B> Guarded<B> {
    pub fn new(inner: B, busy: Busy) -> Guarded<B> {
        Guarded { inner, _busy: busy }
    }
}

impl<B: Body + Unpin> Body for Guarded<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ONE: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);
    const TWO: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 2));

    #[test]
    fn a_new_connection_takes_the_longest_idle_slot_never_a_busy_one() {
        let slots = Slots::new(2, 2);
        let first = Arc::new(slots.admit(ONE).unwrap());
        let second = Arc::new(slots.admit(ONE).unwrap());
        let _busy = first.busy();
        // Full: the idle one goes.
        let third = Arc::new(slots.admit(TWO).unwrap());
        assert!(second.evicted.is_cancelled() && !first.evicted.is_cancelled());
        assert_eq!(slots.open(), 2);
        // Both busy: refused.
        let _also_busy = third.busy();
        assert!(slots.admit(TWO).is_none());
        drop(_busy);
        assert!(slots.admit(TWO).is_some());
        assert!(first.evicted.is_cancelled());
    }

    #[test]
    fn a_peer_over_its_share_gives_up_its_own_idle_slot() {
        let slots = Slots::new(10, 2);
        let other = slots.admit(TWO).unwrap();
        let a = slots.admit(ONE).unwrap();
        let _b = slots.admit(ONE).unwrap();
        let _c = slots.admit(ONE).unwrap();
        assert!(a.evicted.is_cancelled() && !other.evicted.is_cancelled());
        assert_eq!(slots.open(), 3);
    }
}
