//! Who the client is behind reverse proxies: `GANTRY_TRUSTED_PROXIES` lists the proxies'
//! networks, and only a request that arrives from one of them has its `X-Forwarded-For`
//! read, right to left, up to the first address that is not a trusted proxy (any hop left of
//! that one could have been written by the client itself). Without the setting the header
//! is ignored: anybody can send it.

use std::net::IpAddr;

/// A network: an address and a prefix length (`10.0.0.0/8`, `fd00::/8`, or one address).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Network {
    address: IpAddr,
    prefix: u8,
}

impl Network {
    /// Reads `10.0.0.0/8`, `2001:db8::/32` or a single address.
    pub fn parse(text: &str) -> Option<Network> {
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address.parse().ok()?, prefix.parse().ok()?),
            None => {
                let address: IpAddr = text.parse().ok()?;
                (address, if address.is_ipv4() { 32 } else { 128 })
            }
        };
        let most = if matches!(address, IpAddr::V4(_)) {
            32
        } else {
            128
        };
        (prefix <= most).then_some(Network { address, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.address, canonical(ip)) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                masked(u32::from(net).into(), 32, self.prefix)
                    == masked(u32::from(ip).into(), 32, self.prefix)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                masked(net.into(), 128, self.prefix) == masked(ip.into(), 128, self.prefix)
            }
            _ => false,
        }
    }
}

/// `bits` of `value` kept from the top, the rest zero.
fn masked(value: u128, width: u8, keep: u8) -> u128 {
    if keep == 0 {
        return 0;
    }
    let drop = u32::from(width - keep);
    (value >> drop) << drop
}

/// An IPv4 address as IPv4 even when it arrives mapped into IPv6 (`::ffff:10.0.0.1`).
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The client of a request from `peer` carrying `forwarded_for` (the `X-Forwarded-For`
/// values, in order), given the trusted proxies.
pub fn client(peer: IpAddr, forwarded_for: &[&str], trusted: &[Network]) -> IpAddr {
    let trusted_hop = |ip: IpAddr| trusted.iter().any(|n| n.contains(ip));
    let peer = canonical(peer);
    if !trusted_hop(peer) {
        return peer;
    }
    let mut client = peer;
    let hops = forwarded_for
        .iter()
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .rev();
    for hop in hops {
        let Ok(ip) = hop.parse::<IpAddr>() else {
            // A hop that is not an address: whatever is left of it cannot be trusted either.
            return client;
        };
        client = canonical(ip);
        if !trusted_hop(client) {
            return client;
        }
    }
    client
}

/// What the login limiter counts an address as: itself for IPv4, its /64 for IPv6 (one
/// host usually holds a whole /64, and could otherwise change address on every guess).
pub fn limiter_key(ip: IpAddr) -> String {
    match canonical(ip) {
        IpAddr::V6(v6) => {
            let network = masked(v6.into(), 128, 64);
            format!("{}/64", std::net::Ipv6Addr::from(network))
        }
        v4 => v4.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn networks_parse_and_contain() {
        let ten = Network::parse("10.0.0.0/8").unwrap();
        assert!(ten.contains(ip("10.1.2.3")) && ten.contains(ip("::ffff:10.9.9.9")));
        assert!(!ten.contains(ip("11.0.0.1")) && !ten.contains(ip("fd00::1")));
        let v6 = Network::parse("fd00::/8").unwrap();
        assert!(v6.contains(ip("fd12::1")) && !v6.contains(ip("fe80::1")));
        assert!(Network::parse("192.168.1.7")
            .unwrap()
            .contains(ip("192.168.1.7")));
        assert!(Network::parse("0.0.0.0/0").unwrap().contains(ip("8.8.8.8")));
        for bad in ["10.0.0.0/33", "fd00::/129", "proxy.local", "10.0.0.0/x", ""] {
            assert_eq!(Network::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_client_is_the_right_most_untrusted_hop() {
        let trusted = [Network::parse("10.0.0.0/8").unwrap()];
        // Straight from the internet: the header is the client's own words.
        assert_eq!(
            client(ip("203.0.113.9"), &["1.2.3.4"], &trusted),
            ip("203.0.113.9")
        );
        // Through the proxy: the hop it saw; what the client prepended is ignored.
        assert_eq!(
            client(ip("10.0.0.5"), &["6.6.6.6, 198.51.100.7"], &trusted),
            ip("198.51.100.7")
        );
        // Two proxies deep, over two headers.
        assert_eq!(
            client(ip("10.0.0.5"), &["198.51.100.7", "10.0.0.9"], &trusted),
            ip("198.51.100.7")
        );
        // Garbage stops the walk at the last trusted hop.
        assert_eq!(
            client(ip("10.0.0.5"), &["198.51.100.7, <script>"], &trusted),
            ip("10.0.0.5")
        );
        // No proxies configured: the header is ignored.
        assert_eq!(client(ip("10.0.0.5"), &["1.2.3.4"], &[]), ip("10.0.0.5"));
    }

    #[test]
    fn ipv6_clients_are_limited_per_64() {
        assert_eq!(limiter_key(ip("2001:db8:1:2:aaaa::1")), "2001:db8:1:2::/64");
        assert_eq!(
            limiter_key(ip("2001:db8:1:2:ffff::9")),
            limiter_key(ip("2001:db8:1:2::7"))
        );
        assert_eq!(limiter_key(ip("::ffff:192.0.2.1")), "192.0.2.1");
    }
}
