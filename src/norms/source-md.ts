// SOURCE.md → citation and provenance. Citation: the text of a section whose heading mentions
// citing / the original publication / references; otherwise the first paragraph. Source: the text
// of a section about where the files came from (or "Source"/"Provenance"), if any.

export interface SourceInfo {
  citation: string;
  source: string;
}

interface Section {
  heading: string;
  body: string;
}

const CITATION_HEADING = /\b(cite|citing|citation|original publication|reference)/i;
const SOURCE_HEADING = /(came from|\bsources?\b|provenance|origin\b|obtained)/i;

function sections(markdown: string): { preamble: string; sections: Section[] } {
  const out: Section[] = [];
  let preamble: string[] = [];
  let current: { heading: string; lines: string[] } | undefined;
  let inFence = false;
  for (const line of markdown.split(/\r?\n/)) {
    if (/^\s*(```|~~~)/.test(line)) inFence = !inFence;
    const heading = !inFence && /^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (heading) {
      if (current) out.push({ heading: current.heading, body: current.lines.join('\n').trim() });
      current = { heading: heading[1]!, lines: [] };
    } else if (current) {
      current.lines.push(line);
    } else {
      preamble.push(line);
    }
  }
  if (current) out.push({ heading: current.heading, body: current.lines.join('\n').trim() });
  return { preamble: preamble.join('\n').trim(), sections: out };
}

function firstParagraph(markdown: string): string {
  const blocks = markdown.split(/\r?\n\s*\r?\n/).map((block) => block.trim());
  return blocks.find((block) => block !== '' && !/^#{1,6}\s/.test(block)) ?? '';
}

export function parseSourceMarkdown(markdown: string): SourceInfo {
  const parsed = sections(markdown);
  const citationSection = parsed.sections.find((s) => CITATION_HEADING.test(s.heading) && s.body !== '');
  const sourceSection = parsed.sections.find((s) => SOURCE_HEADING.test(s.heading) && s !== citationSection && s.body !== '');
  const citation = citationSection?.body
    ?? (firstParagraph(parsed.preamble) || firstParagraph(parsed.sections.map((s) => s.body).join('\n\n')));
  return { citation: citation.trim(), source: (sourceSection?.body ?? '').trim() };
}
