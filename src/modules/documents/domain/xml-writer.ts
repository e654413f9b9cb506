// A tiny deterministic XML serializer for the formats (platform XML, UBL, OFD parts). Written by hand rather than
// with xmlbuilder2 so that every character survives a round trip: text is escaped (&, <, >), a carriage return is
// written as `&#13;` (a literal one would be normalised to a newline by any parser), and a character that XML 1.0
// cannot carry at all (other C0 controls, lone surrogates, U+FFFE/U+FFFF) is written as U+FFFD (printable.ts): the
// text rules keep such characters out of new invoices, and a stored one must still render.
import { xmlChars } from './printable.ts';

export interface XmlNode {
  name: string;
  attrs?: Record<string, string>;
  /** Either text (a leaf) or child elements. */
  text?: string;
  children?: XmlNode[];
}

type Child = XmlNode | undefined | false;

/** An element with text content, or with children (undefined/false children are skipped). */
export function el(name: string, content?: string | Child[], attrs?: Record<string, string>): XmlNode {
  const node: XmlNode = { name };
  if (attrs) node.attrs = attrs;
  if (typeof content === 'string') node.text = content;
  else if (content) node.children = content.filter((c): c is XmlNode => !!c);
  return node;
}

/** An element only when the value is present: optional fields keep their absence through a round trip. */
export function opt(name: string, value: string | undefined, attrs?: Record<string, string>): XmlNode | undefined {
  return value === undefined ? undefined : el(name, value, attrs);
}

export function escapeText(s: string): string {
  return xmlChars(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/\r/g, '&#13;');
}

export function escapeAttr(s: string): string {
  return escapeText(s).replace(/"/g, '&quot;').replace(/\n/g, '&#10;').replace(/\t/g, '&#9;');
}

/** Serializes with an XML declaration and two-space indentation (whitespace only between elements). */
export function toXml(root: XmlNode, indent = '  '): string {
  const out: string[] = ['<?xml version="1.0" encoding="UTF-8"?>\n'];
  write(root, 0, indent, out);
  return out.join('');
}

function write(node: XmlNode, depth: number, indent: string, out: string[]): void {
  const pad = indent.repeat(depth);
  let open = `<${node.name}`;
  for (const [k, v] of Object.entries(node.attrs ?? {})) open += ` ${k}="${escapeAttr(v)}"`;
  if (node.children && node.children.length > 0) {
    out.push(`${pad}${open}>\n`);
    for (const c of node.children) write(c, depth + 1, indent, out);
    out.push(`${pad}</${node.name}>\n`);
  } else if (node.text !== undefined && node.text !== '') {
    out.push(`${pad}${open}>${escapeText(node.text)}</${node.name}>\n`);
  } else {
    out.push(`${pad}${open}/>\n`);
  }
}
