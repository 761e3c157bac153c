//! The server side of HTTP/1.1, just enough for a proxy in front of moto.
//!
//! The gateway owns its sockets instead of handing them to a server framework, because its faults
//! are socket behaviours: a reset (`SO_LINGER` 0), a connection that is read and never answered.
//! Requests are read whole (`Content-Length` or chunked bodies, `Expect: 100-continue`); responses
//! are written with a `Content-Length`.

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Largest request head accepted.
const MAX_HEAD: usize = 64 * 1024;
/// Largest request body accepted (bodies are buffered).
const MAX_BODY: u64 = 256 * 1024 * 1024;
/// Most header lines accepted.
const MAX_HEADERS: usize = 128;

/// One request, read whole.
#[derive(Debug)]
pub(crate) struct Request {
    pub method: String,
    /// The request target as sent: `/path?query` (or an absolute URL).
    pub target: String,
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub minor_version: u8,
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Bytes,
}

impl Request {
    /// The first header of that name, if it is text.
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }

    /// Whether the client wants to keep the connection open after this request.
    pub fn keep_alive(&self) -> bool {
        let connection = self.header("connection").unwrap_or("").to_ascii_lowercase();
        if self.minor_version == 0 {
            connection.contains("keep-alive")
        } else {
            !connection.contains("close")
        }
    }

    /// The path and query of the target, whatever its form.
    pub fn path_and_query(&self) -> &str {
        let target = self.target.as_str();
        match target.find("://") {
            Some(scheme_end) => {
                let rest = &target[scheme_end + 3..];
                rest.find('/').map_or("/", |slash| &rest[slash..])
            }
            None => target,
        }
    }

    /// The path of the target, without the query.
    pub fn path(&self) -> &str {
        let pq = self.path_and_query();
        pq.split_once('?').map_or(pq, |(path, _)| path)
    }

    /// The query of the target, without `?`.
    pub fn query(&self) -> &str {
        self.path_and_query()
            .split_once('?')
            .map_or("", |(_, query)| query)
    }
}

fn header<'a>(headers: &'a [(String, Vec<u8>)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .and_then(|(_, v)| std::str::from_utf8(v).ok())
        .map(str::trim)
}

/// One response to write.
#[derive(Debug, Clone)]
pub(crate) struct Response {
    pub status: u16,
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Bytes,
    /// The response has no body on the wire whatever its headers say (HEAD, 204, 304): headers
    /// such as `Content-Length` are written as given.
    pub bodiless: bool,
}

impl Response {
    pub fn new(status: u16, content_type: &str, body: impl Into<Bytes>) -> Self {
        Response {
            status,
            headers: vec![("content-type".into(), content_type.as_bytes().to_vec())],
            body: body.into(),
            bodiless: false,
        }
    }

    pub fn text(status: u16, body: &str) -> Self {
        Response::new(status, "text/plain; charset=utf-8", body.to_owned())
    }

    pub fn json(status: u16, value: &serde_json::Value) -> Self {
        Response::new(status, "application/json", value.to_string())
    }

    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers
            .push((name.to_owned(), value.as_bytes().to_vec()));
        self
    }
}

/// Why a request could not be read.
#[derive(Debug)]
pub(crate) enum ReadError {
    /// The socket failed or closed mid-request.
    Io(std::io::Error),
    /// The bytes are not HTTP/1.x; answer 400 and close.
    Malformed(String),
    /// The head or body is too large; answer 431/413 and close.
    TooLarge(u16),
}

impl From<std::io::Error> for ReadError {
    fn from(err: std::io::Error) -> Self {
        ReadError::Io(err)
    }
}

/// One accepted connection and its read buffer.
pub(crate) struct Connection {
    stream: TcpStream,
    buf: BytesMut,
}

impl Connection {
    pub fn new(stream: TcpStream) -> Self {
        Connection {
            stream,
            buf: BytesMut::with_capacity(8 * 1024),
        }
    }

    /// Reads more bytes; `false` on end of stream.
    async fn fill(&mut self) -> std::io::Result<bool> {
        Ok(self.stream.read_buf(&mut self.buf).await? > 0)
    }

    /// Reads the next request; `None` when the client closed the connection between requests.
    pub async fn read_request(&mut self) -> Result<Option<Request>, ReadError> {
        let (request, head_len) = loop {
            if !self.buf.is_empty() {
                let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
                let mut parsed = httparse::Request::new(&mut slots);
                match parsed.parse(&self.buf) {
                    Ok(httparse::Status::Complete(head_len)) => {
                        let request = Request {
                            method: parsed.method.unwrap_or("GET").to_owned(),
                            target: parsed.path.unwrap_or("/").to_owned(),
                            minor_version: parsed.version.unwrap_or(1),
                            headers: parsed
                                .headers
                                .iter()
                                .map(|h| (h.name.to_owned(), h.value.to_vec()))
                                .collect(),
                            body: Bytes::new(),
                        };
                        break (request, head_len);
                    }
                    Ok(httparse::Status::Partial) if self.buf.len() > MAX_HEAD => {
                        return Err(ReadError::TooLarge(431));
                    }
                    Ok(httparse::Status::Partial) => {}
                    Err(httparse::Error::TooManyHeaders) => return Err(ReadError::TooLarge(431)),
                    Err(err) => return Err(ReadError::Malformed(err.to_string())),
                }
            }
            if !self.fill().await? {
                if self.buf.is_empty() {
                    return Ok(None);
                }
                return Err(ReadError::Io(std::io::ErrorKind::UnexpectedEof.into()));
            }
        };
        self.buf.advance(head_len);
        let mut request = request;
        let chunked = request
            .header("transfer-encoding")
            .is_some_and(|te| te.to_ascii_lowercase().contains("chunked"));
        let length = match request.header("content-length") {
            Some(value) if !chunked => Some(
                value
                    .parse::<u64>()
                    .map_err(|_| ReadError::Malformed(format!("bad content-length {value:?}")))?,
            ),
            _ => None,
        };
        if length.is_some_and(|len| len > MAX_BODY) {
            return Err(ReadError::TooLarge(413));
        }
        let has_body = chunked || length.is_some_and(|len| len > 0);
        let expects_continue = request
            .header("expect")
            .is_some_and(|e| e.eq_ignore_ascii_case("100-continue"));
        if has_body && expects_continue && self.buf.is_empty() {
            self.stream
                .write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
                .await?;
        }
        request.body = if chunked {
            self.read_chunked().await?
        } else {
            self.read_exact(length.unwrap_or(0) as usize).await?
        };
        Ok(Some(request))
    }

    async fn read_exact(&mut self, len: usize) -> Result<Bytes, ReadError> {
        while self.buf.len() < len {
            if !self.fill().await? {
                return Err(ReadError::Io(std::io::ErrorKind::UnexpectedEof.into()));
            }
        }
        Ok(self.buf.split_to(len).freeze())
    }

    async fn read_line(&mut self) -> Result<String, ReadError> {
        loop {
            if let Some(end) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let line = self.buf.split_to(end + 2);
                return Ok(String::from_utf8_lossy(&line[..end]).into_owned());
            }
            if self.buf.len() > MAX_HEAD {
                return Err(ReadError::TooLarge(431));
            }
            if !self.fill().await? {
                return Err(ReadError::Io(std::io::ErrorKind::UnexpectedEof.into()));
            }
        }
    }

    async fn read_chunked(&mut self) -> Result<Bytes, ReadError> {
        let mut body = BytesMut::new();
        loop {
            let line = self.read_line().await?;
            let size_text = line.split(';').next().unwrap_or("").trim();
            let size = u64::from_str_radix(size_text, 16)
                .map_err(|_| ReadError::Malformed(format!("bad chunk size {size_text:?}")))?;
            if size == 0 {
                // Trailers, up to the empty line.
                while !self.read_line().await?.is_empty() {}
                return Ok(body.freeze());
            }
            if body.len() as u64 + size > MAX_BODY {
                return Err(ReadError::TooLarge(413));
            }
            let chunk = self.read_exact(size as usize).await?;
            body.extend_from_slice(&chunk);
            if !self.read_line().await?.is_empty() {
                return Err(ReadError::Malformed("chunk not followed by CRLF".into()));
            }
        }
    }

    /// Writes a response; adds `Connection: close` when the connection closes after it.
    pub async fn write_response(
        &mut self,
        response: &Response,
        keep_alive: bool,
    ) -> std::io::Result<()> {
        let reason = hyper::StatusCode::from_u16(response.status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("Unknown");
        let mut out = Vec::with_capacity(256 + response.body.len());
        out.extend_from_slice(format!("HTTP/1.1 {} {reason}\r\n", response.status).as_bytes());
        for (name, value) in &response.headers {
            let framing = name.eq_ignore_ascii_case("content-length")
                || name.eq_ignore_ascii_case("transfer-encoding");
            if name.eq_ignore_ascii_case("connection") || (framing && !response.bodiless) {
                continue;
            }
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value);
            out.extend_from_slice(b"\r\n");
        }
        if !response.bodiless {
            out.extend_from_slice(
                format!("content-length: {}\r\n", response.body.len()).as_bytes(),
            );
        }
        if !keep_alive {
            out.extend_from_slice(b"connection: close\r\n");
        }
        out.extend_from_slice(b"\r\n");
        if !response.bodiless {
            out.extend_from_slice(&response.body);
        }
        self.stream.write_all(&out).await?;
        self.stream.flush().await
    }

    /// Drops the connection with a TCP reset (the client sees "connection reset").
    pub fn reset(self) {
        // Without SO_LINGER 0 the close would be an orderly FIN; a failure only softens the reset.
        let _ = self.stream.set_zero_linger();
        drop(self.stream);
    }

    /// Never answers: reads and discards until the client gives up (the gateway aborts the task
    /// when it stops).
    pub async fn hang(mut self) {
        let mut scratch = vec![0u8; 4096];
        while let Ok(read) = self.stream.read(&mut scratch).await {
            if read == 0 {
                return;
            }
        }
    }
}
