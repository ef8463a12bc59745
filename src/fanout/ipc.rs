//! The same-host transport: iceoryx2 shared memory (feature `iceoryx2`). No daemon, no copy
//! into a socket: the publisher loans a slot in shared memory, writes the sample and hands
//! it over.
//!
//! `SERVICE` names two iceoryx2 services: `SERVICE` (publish-subscribe, byte-slice samples)
//! for the stream and `SERVICE/snapshot` (request-response) for the last-value snapshots. The
//! stream service overwrites a subscriber's oldest sample when its queue is full
//! ([`QUEUE_SAMPLES`] samples): the publisher never waits, and the subscriber sees the loss in
//! the sequence numbers.

use iceoryx2::port::client::Client;
use iceoryx2::port::publisher::Publisher;
use iceoryx2::port::server::Server;
use iceoryx2::port::subscriber::Subscriber;
use iceoryx2::prelude::*;
use iceoryx2::service::port_factory::publish_subscribe::PortFactory as StreamFactory;
use iceoryx2::service::port_factory::request_response::PortFactory as SnapshotFactory;

use super::wire::{HEADER_BYTES, MAX_STREAM_RECORDS, RECORD_BYTES};
use super::{Source, Transport, TransportError};

type Svc = ipc_threadsafe::Service;
type ActiveRequest = iceoryx2::active_request::ActiveRequest<Svc, u64, (), [u8], ()>;
type PendingResponse = iceoryx2::pending_response::PendingResponse<Svc, u64, (), [u8], ()>;

/// Samples a subscriber's queue holds before the oldest is overwritten (64 records each).
pub const QUEUE_SAMPLES: usize = 1024;
/// Subscribers a stream takes.
pub const MAX_SUBSCRIBERS: usize = 8;

const STREAM_SAMPLE_BYTES: usize = HEADER_BYTES + MAX_STREAM_RECORDS * RECORD_BYTES;

fn err(service: &str, what: &str, e: impl std::fmt::Debug) -> TransportError {
    TransportError::new(format!("iceoryx2:{service}"), format!("{what}: {e:?}"))
}

struct Ports {
    /// Held for as long as the ports: the node owns the process's iceoryx2 registration.
    _node: Node<Svc>,
    stream: StreamFactory<Svc, [u8], ()>,
    snapshot: SnapshotFactory<Svc, u64, (), [u8], ()>,
}

fn open(service: &str) -> Result<Ports, TransportError> {
    iceoryx2::prelude::set_log_level_from_env_or(LogLevel::Error);
    let node = NodeBuilder::new()
        .signal_handling_mode(SignalHandlingMode::Disabled)
        .create::<Svc>()
        .map_err(|e| err(service, "creating the node", e))?;
    let name: ServiceName =
        service.try_into().map_err(|e| err(service, "invalid service name", e))?;
    let stream = node
        .service_builder(&name)
        .publish_subscribe::<[u8]>()
        .enable_safe_overflow(true)
        .subscriber_max_buffer_size(QUEUE_SAMPLES)
        .subscriber_max_borrowed_samples(2)
        .history_size(0)
        .max_subscribers(MAX_SUBSCRIBERS)
        .max_publishers(2)
        .open_or_create()
        .map_err(|e| err(service, "opening the stream service", e))?;
    let snapshot_name: ServiceName = format!("{service}/snapshot")
        .as_str()
        .try_into()
        .map_err(|e| err(service, "invalid service name", e))?;
    let snapshot = node
        .service_builder(&snapshot_name)
        .request_response::<u64, [u8]>()
        .max_clients(MAX_SUBSCRIBERS * 2)
        .max_servers(2)
        .max_active_requests_per_client(2)
        .max_response_buffer_size(2)
        .open_or_create()
        .map_err(|e| err(service, "opening the snapshot service", e))?;
    Ok(Ports { _node: node, stream, snapshot })
}

/// The publishing end of `iceoryx2:SERVICE`.
pub struct IpcTransport {
    service: String,
    ports: Ports,
    publisher: Publisher<Svc, [u8], ()>,
    server: Server<Svc, u64, (), [u8], ()>,
    requests: Vec<ActiveRequest>,
}

impl std::fmt::Debug for IpcTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IpcTransport").field("service", &self.service).finish()
    }
}

impl IpcTransport {
    /// Opens (or creates) the services and the publisher's ports.
    pub fn open(service: &str) -> Result<Self, TransportError> {
        let ports = open(service)?;
        let publisher = ports
            .stream
            .publisher_builder()
            .initial_max_slice_len(STREAM_SAMPLE_BYTES)
            .max_loaned_samples(2)
            .create()
            .map_err(|e| err(service, "creating the publisher", e))?;
        let server = ports
            .snapshot
            .server_builder()
            .initial_max_slice_len(64 * RECORD_BYTES)
            .allocation_strategy(AllocationStrategy::PowerOfTwo)
            .create()
            .map_err(|e| err(service, "creating the snapshot server", e))?;
        Ok(IpcTransport {
            service: service.to_string(),
            ports,
            publisher,
            server,
            requests: Vec::new(),
        })
    }
}

impl Transport for IpcTransport {
    fn describe(&self) -> String {
        format!("iceoryx2:{}", self.service)
    }

    fn send(&mut self, sample: &[u8]) -> Result<(), TransportError> {
        let loan = self
            .publisher
            .loan_slice_uninit(sample.len())
            .map_err(|e| err(&self.service, "loaning a sample", e))?;
        loan.write_from_slice(sample)
            .send()
            .map_err(|e| err(&self.service, "sending a sample", e))?;
        Ok(())
    }

    fn take_requests(&mut self) -> Result<usize, TransportError> {
        while let Some(request) =
            self.server.receive().map_err(|e| err(&self.service, "receiving a request", e))?
        {
            self.requests.push(request);
        }
        Ok(self.requests.len())
    }

    fn answer(&mut self, snapshot: &[u8]) -> Result<(), TransportError> {
        for request in self.requests.drain(..) {
            let loan = request
                .loan_slice_uninit(snapshot.len())
                .map_err(|e| err(&self.service, "loaning a snapshot", e))?;
            loan.write_from_slice(snapshot)
                .send()
                .map_err(|e| err(&self.service, "sending a snapshot", e))?;
        }
        Ok(())
    }

    fn has_subscribers(&mut self) -> bool {
        self.ports.stream.dynamic_config().number_of_subscribers() > 0
    }
}

/// The subscribing end of `iceoryx2:SERVICE`.
pub struct IpcSource {
    service: String,
    _ports: Ports,
    subscriber: Subscriber<Svc, [u8], ()>,
    client: Client<Svc, u64, (), [u8], ()>,
    pending: Option<PendingResponse>,
}

impl std::fmt::Debug for IpcSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IpcSource").field("service", &self.service).finish()
    }
}

impl IpcSource {
    /// Opens (or creates) the services and the subscriber's ports, with a queue of `queue`
    /// samples (at most [`QUEUE_SAMPLES`]).
    pub fn open(service: &str, queue: usize) -> Result<Self, TransportError> {
        let ports = open(service)?;
        let subscriber = ports
            .stream
            .subscriber_builder()
            .buffer_size(queue.clamp(1, QUEUE_SAMPLES))
            .create()
            .map_err(|e| err(service, "creating the subscriber", e))?;
        let client = ports
            .snapshot
            .client_builder()
            .create()
            .map_err(|e| err(service, "creating the snapshot client", e))?;
        Ok(IpcSource {
            service: service.to_string(),
            _ports: ports,
            subscriber,
            client,
            pending: None,
        })
    }
}

impl Source for IpcSource {
    fn describe(&self) -> String {
        format!("iceoryx2:{}", self.service)
    }

    fn poll(&mut self, f: &mut dyn FnMut(&[u8])) -> Result<usize, TransportError> {
        let mut n = 0;
        while let Some(sample) =
            self.subscriber.receive().map_err(|e| err(&self.service, "receiving", e))?
        {
            f(sample.payload());
            n += 1;
        }
        Ok(n)
    }

    fn request_snapshot(&mut self) -> Result<(), TransportError> {
        // One request at a time: a new one replaces the one still unanswered.
        self.pending = None;
        self.pending = Some(
            self.client.send_copy(0).map_err(|e| err(&self.service, "requesting a snapshot", e))?,
        );
        Ok(())
    }

    fn poll_snapshot(&mut self, f: &mut dyn FnMut(&[u8])) -> Result<usize, TransportError> {
        let Some(pending) = &self.pending else { return Ok(0) };
        let mut n = 0;
        while let Some(response) =
            pending.receive().map_err(|e| err(&self.service, "receiving a snapshot", e))?
        {
            f(response.payload());
            n += 1;
        }
        if n > 0 {
            self.pending = None;
        }
        Ok(n)
    }
}
