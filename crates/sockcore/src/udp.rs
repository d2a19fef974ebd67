//! Reliable datagrams over UDP. (Being written: see the issue tracker.)
