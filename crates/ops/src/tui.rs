//! The full-screen live view of `redoubt watch` (ratatui on crossterm): the data nodes, the
//! Sentinels' views, and the event stream, redrawn every refresh.
//!
//! Drawing ([`draw`]) is a pure function of a [`Snapshot`] and the recent events, so its
//! output is checked in a unit test from ratatui's `TestBackend` buffer; [`run`] owns the
//! terminal (raw mode, alternate screen, restored on every exit path) and the keys:
//! `q`, Esc or Ctrl-C quit; `k` kills the master with SIGKILL (as `redoubt kill master`).

use std::collections::VecDeque;
use std::time::{Instant, SystemTime};

use ratatui::crossterm::event::{self, Event as TermEvent, KeyCode, KeyEventKind, KeyModifiers};
use ratatui::crossterm::terminal::{
    disable_raw_mode, enable_raw_mode, EnterAlternateScreen, LeaveAlternateScreen,
};
use ratatui::crossterm::ExecutableCommand;
use ratatui::layout::{Constraint, Layout};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Row, Table};
use ratatui::Frame;

use crate::probe::{Prober, Snapshot};
use crate::state::Deployment;
use crate::watch::{clock, Event, EventFeed, WatchOptions};

/// Events kept for the pane; older ones scroll away.
const KEEP_EVENTS: usize = 500;

pub fn draw(f: &mut Frame, snap: &Snapshot, events: &VecDeque<Event>, updated: &str) {
    let area = f.area();
    let rows = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(snap.nodes.len() as u16 + 3),
        Constraint::Length(snap.sentinels.len() as u16 + 3),
        Constraint::Min(3),
    ])
    .split(area);

    let master = snap.agreed_master().unwrap_or_else(|| "unknown".into());
    let title = Line::from(vec![
        Span::styled(
            format!(" redoubt watch: {} ", snap.master_name),
            Style::default().add_modifier(Modifier::BOLD),
        ),
        Span::raw(format!(
            "  master {master}  updated {updated}  (k: kill -9 the master, q: quit)"
        )),
    ]);
    f.render_widget(Paragraph::new(title), rows[0]);

    let node_rows = snap.nodes.iter().map(|n| {
        let (role, style) = match (&n.error, n.role.as_str()) {
            (Some(_), _) => ("DOWN".to_string(), Style::default().fg(Color::Red)),
            (None, "master") => (
                "master".to_string(),
                Style::default()
                    .fg(Color::Green)
                    .add_modifier(Modifier::BOLD),
            ),
            (None, r) => (r.to_string(), Style::default()),
        };
        let of = n.master_port.map_or(String::new(), |p| snap.node_name(p));
        let link = match (&n.error, n.role.as_str()) {
            (Some(e), _) => e.clone(),
            (None, "master") => format!("{} replicas online", n.replicas_online),
            (None, _) => n.link.clone().unwrap_or_default(),
        };
        Row::new(vec![
            n.name.clone(),
            format!("127.0.0.1:{}", n.port),
            n.pid.map_or("-".into(), |p| p.to_string()),
            role,
            of,
            link,
            n.offset.map_or(String::new(), |o| o.to_string()),
            n.lag_s.map_or(String::new(), |l| format!("{l}s")),
            n.priority.to_string(),
        ])
        .style(style)
    });
    let nodes = Table::new(
        node_rows,
        [
            Constraint::Length(10),
            Constraint::Length(16),
            Constraint::Length(8),
            Constraint::Length(8),
            Constraint::Length(8),
            Constraint::Min(18),
            Constraint::Length(12),
            Constraint::Length(5),
            Constraint::Length(8),
        ],
    )
    .header(
        Row::new(vec![
            "node", "address", "pid", "role", "of", "link", "offset", "lag", "priority",
        ])
        .style(Style::default().add_modifier(Modifier::UNDERLINED)),
    )
    .block(Block::default().borders(Borders::ALL).title(" data nodes "));
    f.render_widget(nodes, rows[1]);

    let sentinel_rows = snap.sentinels.iter().map(|s| {
        if let Some(e) = &s.error {
            return Row::new(vec![
                s.name.clone(),
                format!("127.0.0.1:{}", s.port),
                "DOWN".into(),
                e.clone(),
            ])
            .style(Style::default().fg(Color::Red));
        }
        let style = if s.master_flags.contains("o_down") || s.tilt {
            Style::default().fg(Color::Red)
        } else if s.master_flags.contains("s_down") || s.failover_state.is_some() {
            Style::default().fg(Color::Yellow)
        } else {
            Style::default()
        };
        Row::new(vec![
            s.name.clone(),
            format!("127.0.0.1:{}", s.port),
            s.master_port.map_or("?".into(), |p| snap.node_name(p)),
            format!("{}{}", s.master_flags, if s.tilt { ",TILT" } else { "" }),
            s.status.clone(),
            format!(
                "{}/{}",
                s.config_epoch.map_or("?".into(), |e| e.to_string()),
                s.current_epoch.map_or("?".into(), |e| e.to_string())
            ),
            format!("{}/{}", s.slaves, s.sentinels),
            s.failover_state.clone().unwrap_or_default(),
        ])
        .style(style)
    });
    let sentinels = Table::new(
        sentinel_rows,
        [
            Constraint::Length(10),
            Constraint::Length(16),
            Constraint::Length(8),
            Constraint::Min(22),
            Constraint::Length(6),
            Constraint::Length(7),
            Constraint::Length(9),
            Constraint::Length(14),
        ],
    )
    .header(
        Row::new(vec![
            "sentinel",
            "address",
            "master",
            "master flags",
            "status",
            "epoch",
            "repl/sent",
            "failover",
        ])
        .style(Style::default().add_modifier(Modifier::UNDERLINED)),
    )
    .block(
        Block::default()
            .borders(Borders::ALL)
            .title(" sentinels (epoch: config/current) "),
    );
    f.render_widget(sentinels, rows[2]);

    let height = rows[3].height.saturating_sub(2) as usize;
    let lines: Vec<Line> = events
        .iter()
        .skip(events.len().saturating_sub(height))
        .map(|e| {
            let style = match e.channel.as_str() {
                "+switch-master" => Style::default()
                    .fg(Color::Green)
                    .add_modifier(Modifier::BOLD),
                "+odown" | "+sdown" | "+tilt" => Style::default().fg(Color::Red),
                c if c.starts_with('-') => Style::default().fg(Color::Cyan),
                _ => Style::default().fg(Color::Yellow),
            };
            Line::from(vec![
                Span::raw(format!("{} {:<10} ", e.at, e.sentinel)),
                Span::styled(format!("{:<18}", e.channel), style),
                Span::raw(format!(" {}", e.payload)),
            ])
        })
        .collect();
    f.render_widget(
        Paragraph::new(lines).block(
            Block::default()
                .borders(Borders::ALL)
                .title(" events (PSUBSCRIBE * on every Sentinel) "),
        ),
        rows[3],
    );
}

/// Restores the terminal however `run` ends, panics included.
struct TerminalGuard;

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        let _ = disable_raw_mode();
        let _ = std::io::stdout().execute(LeaveAlternateScreen);
    }
}

pub fn run(d: &Deployment, opts: &WatchOptions) -> anyhow::Result<()> {
    let feed = EventFeed::start(d)?;
    let mut prober = Prober::new();
    enable_raw_mode()?;
    let _guard = TerminalGuard;
    std::io::stdout().execute(EnterAlternateScreen)?;
    let mut terminal =
        ratatui::Terminal::new(ratatui::backend::CrosstermBackend::new(std::io::stdout()))?;
    let mut events = VecDeque::new();
    let start = Instant::now();
    loop {
        while let Ok(ev) = feed.rx.try_recv() {
            if events.len() == KEEP_EVENTS {
                events.pop_front();
            }
            events.push_back(ev);
        }
        let snap = prober.look(d);
        let updated = clock(SystemTime::now());
        terminal.draw(|f| draw(f, &snap, &events, &updated))?;
        if opts.duration.is_some_and(|limit| start.elapsed() >= limit) {
            return Ok(());
        }
        let next = Instant::now() + opts.interval;
        while let Some(left) = next.checked_duration_since(Instant::now()) {
            if !event::poll(left)? {
                break;
            }
            if let TermEvent::Key(k) = event::read()? {
                let ctrl_c = k.code == KeyCode::Char('c') && k.modifiers == KeyModifiers::CONTROL;
                if k.kind != KeyEventKind::Press {
                    continue;
                }
                if ctrl_c || matches!(k.code, KeyCode::Char('q') | KeyCode::Esc) {
                    return Ok(());
                }
                if k.code == KeyCode::Char('k') {
                    // The demo's one action: kill -9 the master, shown in the event pane.
                    let what = crate::control::kill(d, "master", libc::SIGKILL)
                        .unwrap_or_else(|e| format!("{e:#}"));
                    events.push_back(Event {
                        at: clock(SystemTime::now()),
                        sentinel: "redoubt".into(),
                        channel: "kill".into(),
                        payload: what.trim().to_string(),
                    });
                    break;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::backend::TestBackend;

    fn screen(snap: &Snapshot, events: &VecDeque<Event>) -> Vec<String> {
        let mut t = ratatui::Terminal::new(TestBackend::new(120, 30)).expect("test terminal");
        t.draw(|f| draw(f, snap, events, "12:00:00.000"))
            .expect("draw");
        let buf = t.backend().buffer().clone();
        (0..buf.area.height)
            .map(|y| {
                (0..buf.area.width)
                    .map(|x| buf[(x, y)].symbol())
                    .collect::<String>()
            })
            .collect()
    }

    #[test]
    fn renders_nodes_sentinels_and_events() {
        let snap = crate::probe::sample();
        let events: VecDeque<Event> = [
            ("+sdown", "master mymaster 127.0.0.1 7001"),
            ("+odown", "master mymaster 127.0.0.1 7001 #quorum 2/2"),
            ("+switch-master", "mymaster 127.0.0.1 7001 127.0.0.1 7002"),
        ]
        .into_iter()
        .map(|(c, p)| Event {
            at: "12:00:00.000".into(),
            sentinel: "sentinel1".into(),
            channel: c.into(),
            payload: p.into(),
        })
        .collect();
        let lines = screen(&snap, &events);
        let all = lines.join("\n");
        let row = |needle: &str| {
            lines
                .iter()
                .find(|l| l.contains(needle))
                .unwrap_or_else(|| panic!("no line with {needle:?} in\n{all}"))
                .clone()
        };
        assert!(lines[0].contains("redoubt watch: mymaster"), "{all}");
        assert!(lines[0].contains("master node2"), "{all}");
        let n1 = row("│node1");
        assert!(n1.contains("127.0.0.1:7001") && n1.contains("DOWN"), "{n1}");
        assert!(n1.contains("Connection refused"), "{n1}");
        let n2 = row("│node2");
        assert!(n2.contains("4242") && n2.contains("master"), "{n2}");
        assert!(
            n2.contains("123456") && n2.contains("1 replicas online"),
            "{n2}"
        );
        let n3 = row("│node3");
        assert!(n3.contains("replica") && n3.contains("node2"), "{n3}");
        assert!(
            n3.contains(" up ") && n3.contains("123400") && n3.contains("0s"),
            "{n3}"
        );
        let s1 = row("│sentinel1");
        assert!(
            s1.contains("127.0.0.1:7004") && s1.contains("node2"),
            "{s1}"
        );
        assert!(
            s1.contains("ok") && s1.contains("1/1") && s1.contains("2/3"),
            "{s1}"
        );
        assert!(
            row("sentinel1  +switch-master").contains("127.0.0.1 7002"),
            "{all}"
        );
        assert!(row("sentinel1  +odown").contains("#quorum 2/2"), "{all}");
        // Events come in arrival order, the newest at the bottom.
        let pos = |s: &str| lines.iter().position(|l| l.contains(s));
        assert!(pos("+sdown") < pos("+odown") && pos("+odown") < pos("+switch-master"));
        // Colour is part of the message: DOWN red, the new master green.
        let mut t = ratatui::Terminal::new(TestBackend::new(120, 30)).expect("test terminal");
        t.draw(|f| draw(f, &snap, &events, "12:00:00.000"))
            .expect("draw");
        let buf = t.backend().buffer();
        let down_y = pos("│node1").expect("node1 row") as u16;
        let down_x = lines[down_y as usize]
            .char_indices()
            .position(|(i, _)| lines[down_y as usize][i..].starts_with("DOWN"))
            .expect("DOWN") as u16;
        assert_eq!(buf[(down_x, down_y)].fg, Color::Red);
    }

    #[test]
    fn a_failover_in_progress_is_highlighted() {
        let mut snap = crate::probe::sample();
        snap.sentinels[0].master_port = Some(7001);
        snap.sentinels[0].master_flags = "o_down,s_down,master,failover_in_progress".into();
        snap.sentinels[0].status = "odown".into();
        snap.sentinels[0].failover_state = Some("wait_promotion".into());
        snap.sentinels[1].master_flags = "s_down,master".into();
        snap.sentinels[2].error = Some("Connection refused".into());
        let lines = screen(&snap, &VecDeque::new());
        let all = lines.join("\n");
        let y = |needle: &str| {
            lines
                .iter()
                .position(|l| l.contains(needle))
                .unwrap_or_else(|| panic!("no {needle:?} in\n{all}")) as u16
        };
        let s1 = &lines[y("│sentinel1") as usize];
        assert!(s1.contains("node1") && s1.contains("o_down,s_down,master,failover_in_progress"));
        assert!(
            s1.contains("odown") && s1.contains("wait_promotion"),
            "{s1}"
        );
        assert!(lines[y("│sentinel3") as usize].contains("DOWN"), "{all}");
        let mut t = ratatui::Terminal::new(TestBackend::new(120, 30)).expect("test terminal");
        t.draw(|f| draw(f, &snap, &VecDeque::new(), "x"))
            .expect("draw");
        let buf = t.backend().buffer();
        // ODOWN red, SDOWN yellow, an unreachable Sentinel red.
        assert_eq!(buf[(3, y("│sentinel1"))].fg, Color::Red);
        assert_eq!(buf[(3, y("│sentinel2"))].fg, Color::Yellow);
        assert_eq!(buf[(3, y("│sentinel3"))].fg, Color::Red);
    }

    #[test]
    fn small_terminal_does_not_panic() {
        let snap = crate::probe::sample();
        let mut t = ratatui::Terminal::new(TestBackend::new(20, 5)).expect("test terminal");
        t.draw(|f| draw(f, &snap, &VecDeque::new(), "x"))
            .expect("draw");
    }
}
