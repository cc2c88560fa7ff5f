//! Fitting text into a width without cutting it: one-line bars made of parts
//! that shorten or go whole, and word wrapping that keeps styles. A number
//! or a symbol on screen is whole or absent, never cut at the edge.

use ratatui::style::Style;
use ratatui::text::{Line, Span};

/// Display width in terminal cells.
pub fn width(s: &str) -> usize {
    Span::raw(s).width()
}

fn spans_width(spans: &[Span]) -> usize {
    spans.iter().map(Span::width).sum()
}

/// A part of a one-line bar (the header, the hint bar): its forms from the
/// fullest to the shortest, each with how firmly it holds (higher holds
/// longer) before the part moves to its next form. An empty last form
/// means the part may go entirely.
pub struct Part<'a> {
    pub forms: Vec<(Vec<Span<'a>>, u8)>,
    /// Follows the part before it with no separator.
    pub glue: bool,
}

impl<'a> Part<'a> {
    /// A part that is always shown, in one form.
    pub fn fixed(span: Span<'a>, keep: u8) -> Part<'a> {
        Part { forms: vec![(vec![span], keep)], glue: false }
    }

    /// A part with shorter forms, each a single span; an empty span is the
    /// part gone.
    pub fn forms(forms: impl IntoIterator<Item = (Span<'a>, u8)>) -> Part<'a> {
        let forms =
            forms.into_iter().map(|(s, keep)| (if s.content.is_empty() { vec![] } else { vec![s] }, keep)).collect();
        Part { forms, glue: false }
    }

    /// A part that goes whole when there is no room.
    pub fn droppable(spans: Vec<Span<'a>>, keep: u8) -> Part<'a> {
        Part { forms: vec![(spans, keep), (vec![], u8::MAX)], glue: false }
    }

    pub fn glued(self) -> Part<'a> {
        Part { glue: true, ..self }
    }
}

/// Lays `parts` out in `room` cells, separated by the first of `seps` that
/// lets everything fit at full length; failing that, with the last (the
/// narrowest) separator, the part whose current form holds least takes its
/// next shorter form (the rightmost first among equals), and so on. If even
/// the shortest forms do not fit, whole parts are left out, the least firm
/// first. Whatever is shown is whole.
pub fn fit_parts<'a>(parts: Vec<Part<'a>>, seps: &[&'a str], room: usize) -> Line<'a> {
    let mut form = vec![0usize; parts.len()];
    let mut gone = vec![false; parts.len()];
    let spans_of = |i: usize, f: usize| parts[i].forms.get(f).map_or(&[][..], |f| &f.0[..]);
    let keep_of = |i: usize, f: usize| parts[i].forms.get(f).map_or(0, |f| f.1);
    let total = |form: &[usize], gone: &[bool], sep: &str| {
        let shown: Vec<usize> = (0..parts.len()).filter(|&i| !gone[i] && !spans_of(i, form[i]).is_empty()).collect();
        let seps = shown.iter().skip(1).filter(|&&i| !parts[i].glue).count();
        shown.iter().map(|&i| spans_width(spans_of(i, form[i]))).sum::<usize>() + width(sep) * seps
    };
    let mut sep = seps.first().copied().unwrap_or(" ");
    if let Some(s) = seps.iter().find(|s| total(&form, &gone, s) <= room) {
        sep = s;
    } else {
        sep = seps.last().copied().unwrap_or(sep);
        // Shorten, least firm first, until it fits or nothing is left to shorten.
        while total(&form, &gone, sep) > room {
            let next = (0..parts.len())
                .filter(|&i| form[i] + 1 < parts[i].forms.len())
                .min_by_key(|&i| (keep_of(i, form[i]), std::cmp::Reverse(i)));
            match next {
                Some(i) => form[i] += 1,
                None => break,
            }
        }
        // Then leave whole parts out.
        while total(&form, &gone, sep) > room {
            let next = (0..parts.len())
                .filter(|&i| !gone[i] && !spans_of(i, form[i]).is_empty())
                .min_by_key(|&i| (keep_of(i, form[i]), std::cmp::Reverse(i)));
            match next {
                Some(i) => gone[i] = true,
                None => break,
            }
        }
    }
    let mut spans = Vec::new();
    for (i, part) in parts.into_iter().enumerate() {
        if gone[i] {
            continue;
        }
        let glue = part.glue;
        let Some((f, _)) = part.forms.into_iter().nth(form[i]).filter(|f| !f.0.is_empty()) else { continue };
        if !spans.is_empty() && !glue {
            spans.push(Span::raw(sep));
        }
        spans.extend(f);
    }
    Line::from(spans)
}

/// Word-wraps `line` to `room` cells, keeping each span's style and the
/// line's style. A line whose fields are set apart by two spaces (`stamp
/// 161.09  charges 631.90`) breaks between fields, so a label stays with
/// its value; a field wider than the room breaks between its words, and a
/// word wider than the room is split (only a terminal too narrow for the
/// word does that).
pub fn wrap(line: &Line, room: usize) -> Vec<Line<'static>> {
    let room = room.max(1);
    let fields = line.spans.iter().any(|s| s.content.contains("  "));
    // Runs of spaces and of non-spaces, each with its span's style. In a
    // line of fields a single space is part of a field.
    let mut tokens: Vec<(String, Style, bool)> = Vec::new();
    for span in &line.spans {
        let mut cur = String::new();
        let mut cur_space = false;
        for ch in span.content.chars() {
            let space = ch == ' ';
            if !cur.is_empty() && space != cur_space {
                tokens.push((std::mem::take(&mut cur), span.style, cur_space));
            }
            cur_space = space;
            cur.push(ch);
        }
        if !cur.is_empty() {
            tokens.push((cur, span.style, cur_space));
        }
    }
    if fields {
        let mut merged: Vec<(String, Style, bool)> = Vec::new();
        for (i, t) in tokens.iter().enumerate() {
            let between_words = i > 0 && !tokens[i - 1].2 && tokens.get(i + 1).is_some_and(|n| !n.2);
            let inner_space = t.2 && t.0 == " " && between_words;
            match merged.last_mut() {
                Some(last) if (inner_space || !t.2) && !last.2 && last.1 == t.1 => last.0.push_str(&t.0),
                _ => merged.push((t.0.clone(), t.1, t.2 && !inner_space)),
            }
        }
        tokens = merged;
    }
    let mut out = Wrapped { lines: vec![Vec::new()], used: 0, room };
    for (text, style, space) in tokens {
        if space {
            out.space(text, style);
        } else if width(&text) <= room {
            out.word(text, style);
        } else {
            // Wider than the room: its words one by one (split if need be).
            for (n, w) in text.split(' ').enumerate() {
                if n > 0 {
                    out.space(" ".into(), style);
                }
                if !w.is_empty() {
                    out.word(w.to_string(), style);
                }
            }
        }
    }
    out.lines
        .into_iter()
        .map(|mut spans| {
            // Spaces left at the end of a wrapped line show nothing.
            while spans.len() > 1 && spans.last().is_some_and(|s| s.content.chars().all(|c| c == ' ')) {
                spans.pop();
            }
            Line::from(spans).style(line.style)
        })
        .collect()
}

struct Wrapped {
    lines: Vec<Vec<Span<'static>>>,
    used: usize,
    room: usize,
}

impl Wrapped {
    fn new_line(&mut self) {
        self.lines.push(Vec::new());
        self.used = 0;
    }

    /// Spaces at a break are dropped; leading ones on the first line stay (indentation).
    fn space(&mut self, text: String, style: Style) {
        let w = width(&text);
        if self.used + w <= self.room && (self.used > 0 || self.lines.len() == 1) {
            push(&mut self.lines, text, style);
            self.used += w;
        } else if self.used > 0 {
            self.new_line();
        }
    }

    fn word(&mut self, text: String, style: Style) {
        let w = width(&text);
        if self.used + w > self.room && self.used > 0 {
            self.new_line();
        }
        if w <= self.room - self.used {
            push(&mut self.lines, text, style);
            self.used += w;
            return;
        }
        for ch in text.chars() {
            let s = ch.to_string();
            let cw = width(&s);
            if self.used + cw > self.room && self.used > 0 {
                self.new_line();
            }
            push(&mut self.lines, s, style);
            self.used += cw;
        }
    }
}

fn push(lines: &mut [Vec<Span<'static>>], text: String, style: Style) {
    if let Some(last) = lines.last_mut() {
        last.push(Span::styled(text, style));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(l: &Line) -> String {
        l.spans.iter().map(|s| s.content.as_ref()).collect()
    }

    #[test]
    fn parts_shorten_lowest_keep_first_and_never_cut() {
        let parts = || {
            vec![
                Part::fixed(Span::raw("PAPER"), 9),
                Part::forms([(Span::raw("db: live 0.8 ms"), 1), (Span::raw("db: live"), 2), (Span::raw(""), 0)]),
                Part::forms([(Span::raw("market open 09:15:00 IST"), 3), (Span::raw("09:15:00 IST"), 10)]),
            ]
        };
        let seps = ["  │  ", " │ "];
        assert_eq!(plain(&fit_parts(parts(), &seps, 100)), "PAPER  │  db: live 0.8 ms  │  market open 09:15:00 IST");
        assert_eq!(plain(&fit_parts(parts(), &seps, 50)), "PAPER │ db: live 0.8 ms │ market open 09:15:00 IST");
        assert_eq!(plain(&fit_parts(parts(), &seps, 45)), "PAPER │ db: live │ market open 09:15:00 IST");
        assert_eq!(plain(&fit_parts(parts(), &seps, 32)), "PAPER │ market open 09:15:00 IST");
        assert_eq!(plain(&fit_parts(parts(), &seps, 20)), "PAPER │ 09:15:00 IST");
        // Too narrow for the shortest forms: whole parts go, never half of one.
        assert_eq!(plain(&fit_parts(parts(), &seps, 12)), "09:15:00 IST");
        assert_eq!(plain(&fit_parts(parts(), &seps, 5)), "");
    }

    #[test]
    fn wrapping_breaks_between_words_and_keeps_styles() {
        let bold = Style::new().add_modifier(ratatui::style::Modifier::BOLD);
        let line = Line::from(vec![
            Span::raw(" Order 12: BUY 8567 "),
            Span::styled("ADANIPORTS", bold),
            Span::raw(" @ 1441.00"),
        ]);
        let got = wrap(&line, 20);
        assert_eq!(got.iter().map(plain).collect::<Vec<_>>(), [" Order 12: BUY 8567", "ADANIPORTS @ 1441.00"]);
        assert_eq!(got[1].spans[0].style, bold);
        assert_eq!(wrap(&Line::from("ABCDEFGH"), 3).iter().map(plain).collect::<Vec<_>>(), ["ABC", "DEF", "GH"]);
        assert_eq!(wrap(&Line::default(), 10).len(), 1, "an empty line stays a line");
        // Fields set apart by two spaces break between fields, never inside one.
        let fields = Line::from("brokerage 20.00  GST 71.82  stamp 161.09");
        assert_eq!(
            wrap(&fields, 30).iter().map(plain).collect::<Vec<_>>(),
            ["brokerage 20.00  GST 71.82", "stamp 161.09"]
        );
        assert_eq!(
            wrap(&fields, 12).iter().map(plain).collect::<Vec<_>>(),
            ["brokerage", "20.00", "GST 71.82", "stamp 161.09"]
        );
    }
}
