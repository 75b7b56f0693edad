//! A load generator for `bench/run` that sends an exact number of requests:
//! `GET <path>` to `127.0.0.1:<port>`, one after the other on a single
//! keep-alive HTTP/1.1 connection, each response read in full before the
//! next request is written.
//!
//! ```sh
//! cargo run --release --example bench_client -- <port> <requests> [path]
//! ```
//!
//! `path` defaults to `/hello/world`. It prints one line on stdout,
//! `bench_client: requests=N ok=N`, `ok` counting `200` responses; it fails
//! (exit status 1) if the connection breaks or closes before the last
//! response, so that `requests` is exactly the number the server answered.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;

struct Args {
    port: u16,
    requests: u64,
    path: String,
}

fn args() -> Result<Args, String> {
    let usage = "usage: bench_client <port> <requests> [path]";
    let mut args = std::env::args().skip(1);
    let port = args.next().ok_or(usage)?;
    let requests = args.next().ok_or(usage)?;
    Ok(Args {
        port: port
            .parse()
            .map_err(|_| format!("{port:?} is not a port"))?,
        requests: requests
            .parse()
            .map_err(|_| format!("{requests:?} is not a count"))?,
        path: args.next().unwrap_or_else(|| "/hello/world".into()),
    })
}

/// Reads one response; returns its status code.
fn read_response(reader: &mut impl BufRead, body: &mut Vec<u8>) -> Result<u16, String> {
    let mut line = String::new();
    let mut status = None;
    let mut content_length = None;
    loop {
        line.clear();
        let read = reader.read_line(&mut line).map_err(|e| e.to_string())?;
        if read == 0 {
            return Err("the connection closed before a full response".into());
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        match status {
            None => {
                let code = line.split(' ').nth(1).and_then(|c| c.parse().ok());
                status = Some(code.ok_or_else(|| format!("not a status line: {line:?}"))?);
            }
            Some(_) => {
                if let Some((name, value)) = line.split_once(':') {
                    if name.eq_ignore_ascii_case("content-length") {
                        let length = value.trim().parse::<usize>();
                        content_length = Some(length.map_err(|_| format!("bad {line:?}"))?);
                    }
                }
            }
        }
    }
    let length = content_length.ok_or("a response without Content-Length")?;
    body.resize(length, 0);
    reader.read_exact(body).map_err(|e| e.to_string())?;
    status.ok_or_else(|| "an empty response".into())
}

fn main() -> Result<(), String> {
    let Args {
        port,
        requests,
        path,
    } = args()?;
    let stream = TcpStream::connect(("127.0.0.1", port))
        .map_err(|e| format!("bench_client: cannot connect to 127.0.0.1:{port}: {e}"))?;
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n");
    let mut writer = stream.try_clone().map_err(|e| e.to_string())?;
    let mut reader = BufReader::new(stream);
    let mut body = Vec::new();
    let mut ok = 0u64;
    for sent in 0..requests {
        writer
            .write_all(request.as_bytes())
            .and_then(|()| writer.flush())
            .map_err(|e| format!("bench_client: request {}: {e}", sent + 1))?;
        let status = read_response(&mut reader, &mut body)
            .map_err(|e| format!("bench_client: response {}: {e}", sent + 1))?;
        if status == 200 {
            ok += 1;
        }
    }
    println!("bench_client: requests={requests} ok={ok}");
    Ok(())
}
