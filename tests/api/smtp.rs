//! A small SMTP server the tests start, as the shop's mail relay: plain
//! SMTP on a free loopback port, answering each message as its script says
//! (take it, 451 "try again later", 550 "no such user", or drop the
//! connection in the middle of the message), and keeping what it took.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// How the server answers one message (one MAIL FROM).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Accept,
    /// 451 after the message's data: try again later.
    TryLater,
    /// 550 to the recipient: refused for good.
    Refuse,
    /// Closes the connection after the first line of the message's data.
    Drop,
}

/// A message the server took.
#[derive(Debug, Clone)]
pub struct Received {
    pub from: String,
    pub to: Vec<String>,
    pub data: Vec<u8>,
}

impl Received {
    pub fn parsed(&self) -> mail_parser::Message<'_> {
        mail_parser::MessageParser::default()
            .parse(&self.data[..])
            .expect("a message mail_parser can read")
    }

    pub fn subject(&self) -> String {
        self.parsed().subject().unwrap_or_default().to_owned()
    }

    pub fn text(&self) -> String {
        self.parsed().body_text(0).unwrap_or_default().into_owned()
    }

    pub fn html(&self) -> String {
        self.parsed().body_html(0).unwrap_or_default().into_owned()
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.parsed()
            .header_raw(name)
            .map(|value| value.trim().to_owned())
    }
}

#[derive(Default)]
struct State {
    /// Answers still to give, in order; then every message is accepted.
    script: VecDeque<Answer>,
    received: Vec<Received>,
    /// Messages begun (MAIL FROM), whatever their answer.
    tries: usize,
    /// The login it requires (AUTH PLAIN), if any.
    auth: Option<(String, String)>,
    failed_logins: usize,
}

pub struct SmtpServer {
    pub port: u16,
    state: Arc<Mutex<State>>,
    task: tokio::task::JoinHandle<()>,
}

impl SmtpServer {
    /// A server answering with `script`, then accepting everything.
    pub async fn start(script: &[Answer]) -> SmtpServer {
        SmtpServer::start_with(script, None).await
    }

    /// A server that also requires AUTH PLAIN with `user` and `password`.
    pub async fn with_login(user: &str, password: &str) -> SmtpServer {
        SmtpServer::start_with(&[], Some((user.to_owned(), password.to_owned()))).await
    }

    async fn start_with(script: &[Answer], auth: Option<(String, String)>) -> SmtpServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(Mutex::new(State {
            script: script.iter().copied().collect(),
            auth,
            ..State::default()
        }));
        let shared = state.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream, shared.clone()));
            }
        });
        SmtpServer { port, state, task }
    }

    /// `SMTP_URL` for the shop: plain SMTP, which it allows on loopback.
    pub fn url(&self) -> String {
        match &self.state.lock().unwrap().auth {
            Some((user, password)) => format!("smtp://{user}:{password}@127.0.0.1:{}", self.port),
            None => format!("smtp://127.0.0.1:{}", self.port),
        }
    }

    pub fn received(&self) -> Vec<Received> {
        self.state.lock().unwrap().received.clone()
    }

    /// Messages begun, whatever became of them.
    pub fn tries(&self) -> usize {
        self.state.lock().unwrap().tries
    }

    pub fn failed_logins(&self) -> usize {
        self.state.lock().unwrap().failed_logins
    }

    /// Waits until the server took `count` messages (at most 15 s); returns them.
    pub async fn wait_for(&self, count: usize) -> Vec<Received> {
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        loop {
            let received = self.received();
            if received.len() >= count {
                return received;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the SMTP server got {} messages, not {count}",
                received.len()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// One SMTP session.
async fn serve(stream: TcpStream, state: Arc<Mutex<State>>) {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    let reply = async |write: &mut tokio::net::tcp::OwnedWriteHalf, text: &str| {
        write.write_all(text.as_bytes()).await.is_ok()
    };
    if !reply(&mut write, "220 smtp.test ESMTP ready\r\n").await {
        return;
    }
    let needs_login = state.lock().unwrap().auth.is_some();
    let mut logged_in = !needs_login;
    let mut answer = Answer::Accept;
    let mut from = String::new();
    let mut to = Vec::new();
    loop {
        let mut line = String::new();
        if lines.read_line(&mut line).await.unwrap_or(0) == 0 {
            return;
        }
        let command = line.trim_end().to_owned();
        let verb = command
            .split([' ', ':'])
            .next()
            .unwrap_or_default()
            .to_ascii_uppercase();
        let text = match verb.as_str() {
            "EHLO" if needs_login => {
                "250-smtp.test\r\n250-8BITMIME\r\n250 AUTH PLAIN\r\n".to_owned()
            }
            "EHLO" => "250-smtp.test\r\n250 8BITMIME\r\n".to_owned(),
            "HELO" | "NOOP" => "250 OK\r\n".to_owned(),
            "AUTH" => {
                let given = command.split(' ').nth(2).unwrap_or_default();
                let decoded = STANDARD.decode(given).unwrap_or_default();
                let parts: Vec<&[u8]> = decoded.split(|b| *b == 0).collect();
                let mut state = state.lock().unwrap();
                let expected = state.auth.clone().unwrap_or_default();
                if parts.len() == 3
                    && parts[1] == expected.0.as_bytes()
                    && parts[2] == expected.1.as_bytes()
                {
                    logged_in = true;
                    "235 2.7.0 Authentication successful\r\n".to_owned()
                } else {
                    state.failed_logins += 1;
                    "535 5.7.8 Authentication failed\r\n".to_owned()
                }
            }
            "MAIL" if !logged_in => "530 5.7.0 Authentication required\r\n".to_owned(),
            "MAIL" => {
                let mut state = state.lock().unwrap();
                state.tries += 1;
                answer = state.script.pop_front().unwrap_or(Answer::Accept);
                from = address_in(&command);
                to.clear();
                "250 2.1.0 OK\r\n".to_owned()
            }
            "RCPT" if answer == Answer::Refuse => "550 5.1.1 No such user here\r\n".to_owned(),
            "RCPT" => {
                to.push(address_in(&command));
                "250 2.1.5 OK\r\n".to_owned()
            }
            "DATA" => {
                if !reply(&mut write, "354 End data with <CR><LF>.<CR><LF>\r\n").await {
                    return;
                }
                let mut data = Vec::new();
                loop {
                    let mut line = Vec::new();
                    if lines.read_until(b'\n', &mut line).await.unwrap_or(0) == 0 {
                        return;
                    }
                    if answer == Answer::Drop {
                        // Gone in the middle of the message.
                        return;
                    }
                    if line == b".\r\n" {
                        break;
                    }
                    // Dot-stuffing: a line starting with a dot was sent with two.
                    let line = if line.starts_with(b"..") {
                        &line[1..]
                    } else {
                        &line[..]
                    };
                    data.extend_from_slice(line);
                }
                if answer == Answer::TryLater {
                    "451 4.3.0 Mailbox busy, try again later\r\n".to_owned()
                } else {
                    state.lock().unwrap().received.push(Received {
                        from: from.clone(),
                        to: to.clone(),
                        data,
                    });
                    "250 2.0.0 OK queued\r\n".to_owned()
                }
            }
            "RSET" => {
                to.clear();
                "250 OK\r\n".to_owned()
            }
            "QUIT" => {
                let _ = reply(&mut write, "221 Bye\r\n").await;
                return;
            }
            _ => "502 5.5.2 Command not recognised\r\n".to_owned(),
        };
        if !reply(&mut write, &text).await {
            return;
        }
    }
}

/// The address between `<` and `>` in a MAIL FROM or RCPT TO command.
fn address_in(command: &str) -> String {
    command
        .split_once('<')
        .and_then(|(_, rest)| rest.split_once('>'))
        .map(|(address, _)| address.to_owned())
        .unwrap_or_default()
}
