//! An Asterisk simulator: an ARI server (HTTP/1.1 and a WebSocket of events) that behaves like
//! Asterisk 22.10.1 as captured in `shared/ari-traces`, with simulated callers and desk
//! phones. Used by the integration tests and `switchboard demo --switch asterisk`. It must not
//! depend on any other Switchboard module but `sim`'s plain endpoint types.
