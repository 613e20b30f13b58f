//! The outbound policy: where the server may send requests whose address a user chose
//! (webhooks today, push endpoints next).
//!
//! A user who can make the server connect anywhere can reach inside the host's network: its
//! loopback services, its private ranges, the cloud's metadata address. So every such URL goes
//! through one [`OutboundPolicy`]:
//!
//! - [`OutboundPolicy::check_url`] parses it with the `url` crate (the WHATWG parser browsers
//!   use, which reads `http://2130706433/`, `http://0x7f.1/` and `http://127.1/` as the
//!   127.0.0.1 they are), and refuses credentials, control and direction-changing characters,
//!   schemes other than `http` and `https`, `localhost` names, and address literals the policy
//!   does not permit. Registration calls it, and so does every delivery.
//! - [`OutboundPolicy::permits`] judges an address. The transport applies it to the addresses
//!   it resolves for a name, at delivery, and connects only to those it permits: a DNS answer
//!   that changes between registration and delivery (DNS rebinding) is judged as it is then.
//!   Redirects are never followed.
//!
//! Refused, unless the host's allow-list says otherwise: loopback, private (RFC 1918),
//! link-local (the metadata address 169.254.169.254 among them), shared address space (CGNAT,
//! 100.64.0.0/10), multicast, broadcast, unspecified, reserved and documentation ranges, and
//! in IPv6 the unique-local, link-local, site-local, multicast and documentation ranges and
//! every form that embeds an IPv4 address (mapped, compatible, NAT64, 6to4, Teredo).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

pub use ipnet::IpNet;
pub use url::Url;

use crate::error::{Error, Result};

/// Longest URL accepted, in bytes.
pub const MAX_URL_BYTES: usize = 2048;

/// Where user-chosen outbound requests may go: public addresses, and the networks the host
/// allows (its own internal receivers; loopback in tests).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutboundPolicy {
    allowed: Vec<IpNet>,
}

impl OutboundPolicy {
    /// Public addresses only.
    #[must_use]
    pub fn public_only() -> Self {
        Self::default()
    }

    /// Also permits the addresses in `net`, whatever their range.
    #[must_use]
    pub fn allow(mut self, net: IpNet) -> Self {
        self.allowed.push(net);
        self
    }

    /// The networks allowed beyond the public ones.
    #[must_use]
    pub fn allowed(&self) -> &[IpNet] {
        &self.allowed
    }

    /// Whether the server may connect to `ip`.
    #[must_use]
    pub fn permits(&self, ip: IpAddr) -> bool {
        self.allowed.iter().any(|net| net.contains(&ip)) || is_public(ip)
    }

    /// Parses and checks a URL a user gave.
    ///
    /// # Errors
    /// [`Error::Validation`] on `url`, saying what is wrong.
    pub fn check_url(&self, raw: &str) -> Result<Url> {
        let bad = |why: &str| Error::validation("url", why.to_owned());
        if raw.len() > MAX_URL_BYTES {
            return Err(bad("longer than 2048 bytes"));
        }
        if raw
            .chars()
            .any(|c| c.is_control() || c.is_whitespace() || is_invisible_or_bidi(c))
        {
            return Err(bad(
                "must not contain spaces, control, invisible or direction-changing characters",
            ));
        }
        let url = Url::parse(raw).map_err(|e| bad(&format!("not a URL: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(bad("must be an http:// or https:// URL"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(bad("must not carry a user name or password"));
        }
        let refused = || bad("must not point at a loopback, private or reserved address");
        match url.host() {
            None => return Err(bad("must name a host")),
            Some(url::Host::Ipv4(ip)) if !self.permits(IpAddr::V4(ip)) => return Err(refused()),
            Some(url::Host::Ipv6(ip)) if !self.permits(IpAddr::V6(ip)) => return Err(refused()),
            Some(url::Host::Domain(name)) => {
                let name = name.trim_end_matches('.');
                let local = name == "localhost" || name.ends_with(".localhost");
                if local && !self.permits(IpAddr::V4(Ipv4Addr::LOCALHOST)) {
                    return Err(refused());
                }
            }
            Some(_) => {}
        }
        Ok(url)
    }
}

/// Characters that make a URL read differently from what it is: direction marks and
/// overrides, and zero-width characters.
fn is_invisible_or_bidi(c: char) -> bool {
    matches!(
        c,
        '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}'
    )
}

/// Whether `ip` is a public unicast address, reachable on the internet and nowhere else.
#[must_use]
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    let special = a == 0 // "this network", 0.0.0.0 among it
        || a == 10 // private
        || a == 127 // loopback
        || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
        || (a == 169 && b == 254) // link-local, cloud metadata
        || (a == 172 && (16..32).contains(&b)) // private
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 192 && b == 0 && c == 2) // documentation
        || (a == 192 && b == 88 && c == 99) // 6to4 relay anycast
        || (a == 192 && b == 168) // private
        || (a == 198 && (18..20).contains(&b)) // benchmarking
        || (a == 198 && b == 51 && c == 100) // documentation
        || (a == 203 && b == 0 && c == 113) // documentation
        || a >= 224; // multicast, reserved, broadcast
    !special
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    let special = ip.is_unspecified()
        || ip.is_loopback()
        || s[0..6] == [0, 0, 0, 0, 0, 0xffff] // IPv4-mapped
        || s[0..6] == [0; 6] // IPv4-compatible (deprecated)
        || (s[0] == 0x64 && s[1] == 0xff9b) // NAT64
        || (s[0] == 0x100 && s[1..4] == [0, 0, 0]) // discard-only
        || (s[0] == 0x2001 && s[1] < 0x200) // IETF protocol assignments, Teredo among them
        || (s[0] == 0x2001 && s[1] == 0xdb8) // documentation
        || s[0] == 0x2002 // 6to4
        || (s[0] & 0xfe00) == 0xfc00 // unique local
        || (s[0] & 0xffc0) == 0xfe80 // link-local
        || (s[0] & 0xffc0) == 0xfec0 // site-local (deprecated)
        || (s[0] & 0xff00) == 0xff00; // multicast
    !special
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(policy: &OutboundPolicy, url: &str) -> bool {
        matches!(policy.check_url(url), Err(Error::Validation { field, .. }) if field == "url")
    }

    #[test]
    fn every_inside_address_form_is_refused_at_registration() {
        let p = OutboundPolicy::public_only();
        for url in [
            "http://127.0.0.1:8080/hook",
            "http://127.1/",
            "http://2130706433/",
            "http://0x7f000001/",
            "http://0x7f.0.0.1/",
            "http://0177.0.0.1/",
            "http://localhost/",
            "http://LOCALHOST./",
            "http://api.localhost/",
            "http://[::1]/",
            "http://[::]/",
            "http://0.0.0.0/",
            "http://0/",
            "http://169.254.169.254/latest/meta-data/",
            "http://10.0.0.5/",
            "http://172.16.0.1/",
            "http://172.31.255.255/",
            "http://192.168.1.1/",
            "http://100.64.0.1/",
            "http://224.0.0.1/",
            "http://255.255.255.255/",
            "http://[::ffff:127.0.0.1]/",
            "http://[::ffff:169.254.169.254]/",
            "http://[::127.0.0.1]/",
            "http://[fc00::1]/",
            "http://[fd12:3456::1]/",
            "http://[fe80::1]/",
            "http://[ff02::1]/",
            "http://[64:ff9b::a00:1]/",
            "http://[2002:7f00:1::]/",
            "http://[2001:db8::1]/",
            "http://user:pass@example.com/",
            "http://user@example.com/",
            "https://example.com/\u{202e}kooh",
            "https://exa\u{200b}mple.com/",
            "https://example.com/a b",
            "ftp://example.com/",
            "javascript:alert(1)",
            "https://",
            "http://",
            "http://:80/",
        ] {
            assert!(refused(&p, url), "{url}");
        }
    }

    #[test]
    fn public_urls_pass() {
        let p = OutboundPolicy::public_only();
        for url in [
            "https://example.com/hook",
            "https://hooks.example.com:8443/a?b=c",
            "http://93.184.215.14/",
            "http://8.8.8.8/",
            "http://[2606:4700:4700::1111]/",
            "http://172.32.0.1/",
            "http://100.128.0.1/",
            "https://bücher.example/",
        ] {
            assert!(p.check_url(url).is_ok(), "{url}");
        }
    }

    #[test]
    fn the_allow_list_opens_only_its_networks() {
        let p = OutboundPolicy::public_only().allow("127.0.0.1/32".parse().unwrap());
        assert!(p.check_url("http://127.0.0.1:9000/h").is_ok());
        assert!(p.check_url("http://2130706433:9000/h").is_ok());
        assert!(p.check_url("http://localhost:9000/h").is_ok());
        assert!(refused(&p, "http://127.0.0.2/"));
        assert!(refused(&p, "http://[::1]/"));
        assert!(refused(&p, "http://10.0.0.1/"));
        assert!(p.permits("127.0.0.1".parse().unwrap()));
        assert!(!p.permits("169.254.169.254".parse().unwrap()));
    }

    #[test]
    fn addresses_are_judged_by_range() {
        for ip in [
            "0.0.0.0",
            "127.0.0.1",
            "10.1.2.3",
            "100.100.100.100",
            "169.254.169.254",
            "192.0.0.8",
            "198.18.0.1",
            "240.0.0.1",
            "::",
            "::1",
            "::ffff:8.8.8.8",
            "fe80::1",
            "fd00::1",
            "2001::1",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "2a00:1450::1"] {
            assert!(is_public(ip.parse().unwrap()), "{ip}");
        }
    }
}
