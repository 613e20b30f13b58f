//! Outbound HTTP to addresses users chose (webhooks), under the service's
//! [`OutboundPolicy`]: names are resolved here and only the addresses the policy permits are
//! handed to the connector, so the address judged is the address connected to (a DNS answer
//! that changes after the check cannot slip through). Proxies from the environment are not
//! used (they would connect on our behalf, unjudged) and redirects are never followed.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use chat_core::{DeliveryFailure, OutboundPolicy};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Every address a name resolved to was refused by the policy.
#[derive(Debug, thiserror::Error)]
#[error("no address of this name is allowed")]
pub struct AddressRefused;

/// The name did not resolve.
#[derive(Debug, thiserror::Error)]
#[error("the name did not resolve")]
pub struct NameNotResolved;

/// A resolver that keeps only the addresses the policy permits.
#[derive(Debug, Clone)]
struct PolicyResolver {
    policy: OutboundPolicy,
}

impl Resolve for PolicyResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy.clone();
        Box::pin(async move {
            // Port 0: the connector puts the URL's port on each address.
            let found = tokio::net::lookup_host((name.as_str(), 0))
                .await
                .map_err(|_| NameNotResolved)?;
            let allowed: Vec<SocketAddr> = found.filter(|a| policy.permits(a.ip())).collect();
            if allowed.is_empty() {
                return Err(AddressRefused.into());
            }
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

/// An HTTP client for user-chosen URLs: addresses judged by `policy` at connect time, no
/// proxies, no redirects, every request bounded by `timeout`.
///
/// # Panics
/// If the TLS backend cannot start (it does not, with the bundled roots).
#[must_use]
pub fn client(policy: &OutboundPolicy, timeout: Duration, user_agent: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .dns_resolver(Arc::new(PolicyResolver {
            policy: policy.clone(),
        }))
        .user_agent(user_agent)
        .build()
        .expect("the HTTP client starts")
}

/// The coarse class of a failed request: never the transport's text, which for an address
/// inside a network would say what listens there.
#[must_use]
pub fn classify(error: &reqwest::Error) -> DeliveryFailure {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    let mut tls = false;
    while let Some(e) = source {
        if e.is::<AddressRefused>() {
            return DeliveryFailure::Refused;
        }
        if e.is::<NameNotResolved>() {
            return DeliveryFailure::Dns;
        }
        // rustls's failures reach us as I/O errors of kind InvalidData.
        if e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::InvalidData)
        {
            tls = true;
        }
        source = e.source();
    }
    if error.is_timeout() {
        DeliveryFailure::Timeout
    } else if tls {
        DeliveryFailure::Tls
    } else if error.is_connect() {
        DeliveryFailure::Connect
    } else {
        DeliveryFailure::Other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A listener on loopback that counts the connections it accepts.
    async fn listener() -> (u16, Arc<std::sync::atomic::AtomicUsize>) {
        let socket = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = socket.local_addr().unwrap().port();
        let accepted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let count = Arc::clone(&accepted);
        tokio::spawn(async move {
            // Accepted connections are held open and never answered.
            let mut held = Vec::new();
            while let Ok((stream, _)) = socket.accept().await {
                count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                held.push(stream);
            }
        });
        (port, accepted)
    }

    #[tokio::test]
    async fn a_name_that_resolves_inside_is_never_connected_to() {
        let (port, accepted) = listener().await;
        let client = client(
            &OutboundPolicy::public_only(),
            Duration::from_secs(5),
            "test",
        );
        // `localhost` resolves to loopback (from /etc/hosts, no DNS traffic).
        let error = client
            .post(format!("http://localhost:{port}/h"))
            .send()
            .await
            .unwrap_err();
        assert_eq!(classify(&error), DeliveryFailure::Refused, "{error:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn the_allow_list_opens_its_networks_and_failures_stay_coarse() {
        let (port, accepted) = listener().await;
        let policy = OutboundPolicy::public_only().allow("127.0.0.0/8".parse().unwrap());
        let client = client(&policy, Duration::from_millis(300), "test");
        // The listener accepts and never answers: a timeout, reached through the name.
        let error = client
            .post(format!("http://localhost:{port}/h"))
            .send()
            .await
            .unwrap_err();
        assert_eq!(classify(&error), DeliveryFailure::Timeout, "{error:?}");
        assert!(accepted.load(std::sync::atomic::Ordering::SeqCst) >= 1);
        // Nothing listens on the port of a closed listener: refused by the peer.
        let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let closed_port = closed.local_addr().unwrap().port();
        drop(closed);
        let error = client
            .post(format!("http://127.0.0.1:{closed_port}/h"))
            .send()
            .await
            .unwrap_err();
        assert_eq!(classify(&error), DeliveryFailure::Connect, "{error:?}");
    }
}
