import { describe, expect, it } from "@effect/vitest"
import { RpcSerialization } from "@effect/rpc"
import fc from "fast-check"
import { ndjson } from "../src/Rpc.ts"

const decodeInPieces = (serialization: RpcSerialization.RpcSerialization["Type"], text: string, cuts: ReadonlyArray<number>) => {
  const parser = serialization.unsafeMake()
  const bytes = new TextEncoder().encode(text)
  const points = [...new Set(cuts.map((cut) => cut % (bytes.length + 1)))].sort((a, b) => a - b)
  const pieces = [0, ...points].map((start, i) => bytes.slice(start, points[i] ?? bytes.length))
  return pieces.flatMap((piece) => parser.decode(piece))
}

describe("RPC framing (NDJSON)", () => {
  it("messages cut anywhere by the network, even inside a multi-byte character, decode to what was sent", () => {
    const message = fc.record({ id: fc.string(), title: fc.string({ unit: "grapheme" }) })
    fc.assert(fc.property(fc.array(message, { minLength: 1, maxLength: 5 }), fc.array(fc.nat(), { maxLength: 8 }), (messages, cuts) => {
      const text = messages.map((m) => `${JSON.stringify(m)}\n`).join("")
      expect(decodeInPieces(ndjson, text, cuts)).toEqual(messages)
    }))
  })

  it("the stock decoder of @effect/rpc mangles a character cut in two (why Herald has its own)", () => {
    const text = `${JSON.stringify({ title: "🚀" })}\n`
    const cut = new TextEncoder().encode(text).indexOf(0xf0) + 2
    expect(decodeInPieces(ndjson, text, [cut])).toEqual([{ title: "🚀" }])
    expect(decodeInPieces(RpcSerialization.ndjson, text, [cut])).not.toEqual([{ title: "🚀" }])
  })
})
