/** An RFC 4180 reader for tests: quoted fields with doubled quotes and line breaks, CRLF or LF records. */
export const parseCsv = (text: string): Array<Array<string>> => {
  const rows: Array<Array<string>> = []
  let row: Array<string> = []
  let field = ""
  let quoted = false
  for (let i = 0; i < text.length; i++) {
    const char = text[i]
    if (quoted) {
      if (char === "\"" && text[i + 1] === "\"") {
        field += "\""
        i++
      } else if (char === "\"") {
        quoted = false
      } else {
        field += char
      }
    } else if (char === "\"") {
      quoted = true
    } else if (char === ",") {
      row.push(field)
      field = ""
    } else if (char === "\r" && text[i + 1] === "\n") {
      continue
    } else if (char === "\n") {
      row.push(field)
      rows.push(row)
      row = []
      field = ""
    } else {
      field += char
    }
  }
  if (field !== "" || row.length > 0) {
    row.push(field)
    rows.push(row)
  }
  return rows
}

/** What a spreadsheet shows of a neutralised cell: the text without the `'` that stops it being a formula. */
export const shown = (cell: string): string => (/^'[=+\-@\t\r]/.test(cell) ? cell.slice(1) : cell)
