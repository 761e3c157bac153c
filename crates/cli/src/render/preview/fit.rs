//! Fitting the Markdown comment within a size limit: the sections that may be cut, and the
//! order they are cut in.

use std::fmt::Write;

/// A piece of the document after the head: fixed text, or a section that may be cut.
pub(super) enum Part {
    Fixed(String),
    Section(Section),
}

/// A collapsed section: its opening (`<details>`, summary, fence), one block per resource, and its
/// closing. When cut, the first `kept` blocks stay.
pub(super) struct Section {
    /// Names the section in the note about what was cut.
    pub(super) label: String,
    /// Drift sections are cut after every change section.
    pub(super) drift: bool,
    pub(super) open: String,
    pub(super) blocks: Vec<String>,
    pub(super) close: String,
}

impl Section {
    fn render(&self, kept: usize, out: &mut String) {
        out.push_str(&self.open);
        for b in &self.blocks[..kept] {
            out.push_str(b);
        }
        if kept < self.blocks.len() {
            let _ = writeln!(
                out,
                "# … {} more resource(s) cut to fit one comment",
                self.blocks.len() - kept
            );
        }
        out.push_str(&self.close);
    }
}

/// Assembles the document, cutting sections (changes from the last, then drift) until it fits.
pub(super) fn fit(head: &str, parts: Vec<Part>, footer: &str, limit: usize) -> String {
    let sections: Vec<usize> = parts
        .iter()
        .enumerate()
        .filter_map(|(i, p)| matches!(p, Part::Section(_)).then_some(i))
        .collect();
    // `kept[i]`: how many blocks of part i are shown; `None` when the section is cut whole.
    let mut kept: Vec<Option<usize>> = parts
        .iter()
        .map(|p| match p {
            Part::Section(s) => Some(s.blocks.len()),
            Part::Fixed(_) => Some(0),
        })
        .collect();
    let doc = assemble(head, &parts, &kept, footer);
    if doc.len() <= limit {
        return doc;
    }
    let section_of = |i: usize| match &parts[i] {
        Part::Section(s) => s,
        Part::Fixed(_) => unreachable!("only sections are cut"),
    };
    let mut order: Vec<usize> = sections
        .iter()
        .rev()
        .copied()
        .filter(|&i| !section_of(i).drift)
        .collect();
    order.extend(
        sections
            .iter()
            .rev()
            .copied()
            .filter(|&i| section_of(i).drift),
    );
    for &i in &order {
        kept[i] = None;
        if assemble(head, &parts, &kept, footer).len() > limit {
            continue;
        }
        // It fits without this section: keep as much of it as fits.
        let s = section_of(i);
        let (mut lo, mut hi) = (0, s.blocks.len());
        while lo < hi {
            let mid = (lo + hi).div_ceil(2);
            kept[i] = Some(mid);
            if assemble(head, &parts, &kept, footer).len() <= limit {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        kept[i] = (lo > 0).then_some(lo);
        break;
    }
    let doc = assemble(head, &parts, &kept, footer);
    if doc.len() <= limit {
        return doc;
    }
    // Only the head is left and it is still too long (thousands of banner lines cannot happen,
    // they are capped; but be certain): cut at a character boundary.
    let tail = "\n\n… the preview was cut here to fit one comment.\n";
    let mut end = limit.saturating_sub(tail.len());
    while !doc.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{tail}", &doc[..end])
}

fn assemble(head: &str, parts: &[Part], kept: &[Option<usize>], footer: &str) -> String {
    let mut cut = Vec::new();
    for (p, k) in parts.iter().zip(kept) {
        match (p, k) {
            (Part::Section(s), Some(k)) if *k < s.blocks.len() => cut.push(format!(
                "{} ({} of {} resources shown)",
                s.label,
                k,
                s.blocks.len()
            )),
            (Part::Section(s), None) => cut.push(s.label.clone()),
            _ => {}
        }
    }
    let mut out = String::with_capacity(head.len() + 4096);
    out.push_str(head);
    if !cut.is_empty() {
        let _ = write!(
            out,
            "> [!NOTE]\n> **This preview was cut to fit GitHub's 65,535-character limit.** \
             The summary and the banners above are complete; these details were cut: {}. \
             Run `tandem preview --format text` or `tandem plan` to see everything.\n\n",
            cut.join(", ")
        );
    }
    for (p, k) in parts.iter().zip(kept) {
        match (p, k) {
            (Part::Fixed(t), _) => out.push_str(t),
            (Part::Section(s), Some(k)) => s.render(*k, &mut out),
            (Part::Section(_), None) => {}
        }
    }
    out.push_str(footer);
    out
}
