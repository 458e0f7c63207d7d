/work/main/vendor/freeswitch-types/target/debug/deps/rand_xorshift-0ea3915b863b0918.d: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/rand_xorshift-0.5.0/src/lib.rs

/work/main/vendor/freeswitch-types/target/debug/deps/librand_xorshift-0ea3915b863b0918.rlib: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/rand_xorshift-0.5.0/src/lib.rs

/work/main/vendor/freeswitch-types/target/debug/deps/librand_xorshift-0ea3915b863b0918.rmeta: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/rand_xorshift-0.5.0/src/lib.rs

/root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/rand_xorshift-0.5.0/src/lib.rs:
