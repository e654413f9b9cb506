import { writeFileSync } from 'node:fs';
import { blueSpecial, redSpecial, longNormal } from '../test/fixtures/sample-invoice.ts';
import { invoiceToUbl } from '../src/formats/to-ubl.ts';
import { invoiceToOfd } from '../src/formats/to-ofd.ts';
writeFileSync('/tmp/out/blue.ubl.xml', invoiceToUbl(blueSpecial()));
writeFileSync('/tmp/out/red.ubl.xml', invoiceToUbl(redSpecial()));
writeFileSync('/tmp/out/long.ubl.xml', invoiceToUbl(longNormal()));
writeFileSync('/tmp/out/long.ofd', invoiceToOfd(longNormal()));
writeFileSync('/tmp/out/blue.ofd', invoiceToOfd(blueSpecial()));
