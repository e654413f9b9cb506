import { XMLParser } from 'fast-xml-parser';
const xml = '<?xml version="1.0" encoding="UTF-8"?>\n<R>\n  <A>a&#13;\nb&#xD;&#x9;c &lt;&amp;&gt;&quot;&apos; 😀 &#x1F600;</A>\n  <B></B>\n <C a="1">x&amp;nbsp;y&amp;#13;z&amp;amp;w&amp;lt;</C></R>';
const p = new XMLParser({ parseTagValue: false, trimValues: false, processEntities: true, htmlEntities: true, ignoreAttributes: true });
console.log(JSON.stringify(p.parse(xml)));
