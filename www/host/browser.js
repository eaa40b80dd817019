// The browser host: tables come from a CSV file or pasted text, results go to the page and to
// downloads. The Excel host (host/excel.js) offers the same functions over a workbook.
import { readCsv, tableToCsv } from '../pkg/qualtrics_roster.js';
import { download } from '../ui.js';

/**
 * Reads the table the user gave: the chosen file, else the pasted text.
 * Resolves to `{columns, rows, rowNumbers, source}`; throws a message saying what to do.
 */
export async function readTable({ fileInput, pasteArea }) {
  const file = fileInput.files?.[0];
  let text;
  let source;
  if (file) {
    text = await file.text();
    source = file.name;
  } else if (pasteArea.value.trim()) {
    text = pasteArea.value;
    source = 'pasted text';
  } else {
    throw new Error('Choose a CSV file or paste the rows (with their header row) first.');
  }
  const table = readCsv(text); // throws "The file is empty: ..." and the like
  return { ...table, source, text };
}

/** Saves a table as a CSV download (the browser's "new sheet"). */
export function writeSheet(name, table) {
  download(`${name}.csv`, tableToCsv(table));
}
