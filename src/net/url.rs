//! The URLs a connection needs: `ws`, `wss`, `http`, `https`.

use super::NetError;

/// A parsed URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Url {
    /// `wss` or `https`.
    pub tls: bool,
    /// The host name or address (what SNI and certificate verification use).
    pub host: String,
    /// The port (default 443 with TLS, 80 without).
    pub port: u16,
    /// Path and query, at least `/`.
    pub path: String,
}

impl Url {
    /// Parses `scheme://host[:port][/path]`.
    pub(crate) fn parse(url: &str) -> Result<Url, NetError> {
        let bad = |why| NetError::Url { url: url.to_owned(), why };
        let (scheme, rest) = url.split_once("://").ok_or(bad("no scheme"))?;
        let tls = match scheme {
            "wss" | "https" => true,
            "ws" | "http" => false,
            _ => return Err(bad("scheme must be ws, wss, http or https")),
        };
        let (authority, path) = match rest.find(['/', '?']) {
            Some(i) if rest.as_bytes()[i] == b'/' => (&rest[..i], rest[i..].to_owned()),
            Some(i) => (&rest[..i], format!("/{}", &rest[i..])),
            None => (rest, "/".to_owned()),
        };
        if authority.is_empty() || authority.contains('@') {
            return Err(bad("no host (or credentials in the URL)"));
        }
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (h, after) = v6.split_once(']').ok_or(bad("unclosed IPv6 address"))?;
            let port = match after.strip_prefix(':') {
                Some(p) => p.parse().map_err(|_| bad("bad port"))?,
                None => default_port(tls),
            };
            (h.to_owned(), port)
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h.to_owned(), p.parse().map_err(|_| bad("bad port"))?),
                None => (authority.to_owned(), default_port(tls)),
            }
        };
        Ok(Url { tls, host, port, path })
    }

    /// `host:port`, as a socket address to resolve.
    pub(crate) fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

fn default_port(tls: bool) -> u16 {
    if tls {
        443
    } else {
        80
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_venues_and_the_simulator_use() {
        let u = Url::parse("wss://stream.binance.com:9443/stream?streams=a/b").unwrap();
        assert_eq!(
            (u.tls, u.host.as_str(), u.port, u.path.as_str()),
            (true, "stream.binance.com", 9443, "/stream?streams=a/b")
        );
        let u = Url::parse("wss://ws.kraken.com").unwrap();
        assert_eq!((u.port, u.path.as_str()), (443, "/"));
        let u = Url::parse("ws://127.0.0.1:8080?x=1").unwrap();
        assert_eq!((u.tls, u.port, u.path.as_str()), (false, 8080, "/?x=1"));
        let u = Url::parse("https://[::1]:9000/api").unwrap();
        assert_eq!((u.host.as_str(), u.authority()), ("::1", "[::1]:9000".to_owned()));
        for bad in ["ftp://x", "wss://", "x", "wss://a:b", "wss://u:p@host/"] {
            assert!(Url::parse(bad).is_err(), "{bad}");
        }
    }
}
