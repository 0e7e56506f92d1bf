;; Attention kernels over Float32 rows in linear memory, with Float64 arithmetic in f64x2 lanes.
;;
;; Source of `wasm-attention-bytes.ts`: regenerate with `pnpm build:wasm` at the repository root
;; in packages/core. Every function performs exactly the IEEE-754 double operations of the
;; JavaScript kernels it replaces, in the same order for each output element, so both backends
;; return bit-identical results (WebAssembly, like JavaScript, never fuses a multiply-add):
;;   - `dots` mirrors `dotUnit`: four accumulators a0..a3 over the elements j ≡ 0..3 (mod 4), kept
;;     as the lanes of two f64x2 registers (lo = a0,a1; hi = a2,a3), the d mod 4 tail added to a0,
;;     then (a0 + a1) + (a2 + a3). The f32 → f64 widening and the f32·f32 products are exact in f64.
;;   - `accum` mirrors the value loop of `SlotStore` blockSums: acc[j] ← acc[j] + w_i·v_i[j], for
;;     rows i in increasing order.
;; Speed comes from SIMD (two doubles per instruction) and from working on four rows at once
;; (eight independent add chains in `dots`; one accumulator load/store per four rows in `accum`);
;; neither changes any element's sequence of operations. Pairs of f32 are loaded with
;; v128.load64_zero and widened with f64x2.promote_low_f32x4, which avoids a shuffle.
;;
;; Touch-ahead: the four-row loops also load one word 4096 bytes ahead of the data they read, one
;; cache line per iteration (an iteration consumes 4 rows x 16 bytes = one line's worth), so the
;; stream of misses starts early. WebAssembly has no prefetch instruction and interleaving four
;; rows otherwise defeats the hardware prefetcher: measured 5-6 GB/s without, 10-12 GB/s with, at
;; n = 32K, d = 128. The xor of the touched words is returned (callers ignore it) so no engine may
;; drop the loads. Callers must keep 4096 readable bytes after the last row.
(module
  (import "env" "memory" (memory 1))

  ;; Finishes one row of `dots`: adds the tail elements dv..d-1 to a0, then combines the lanes.
  (func $finish (param $lo v128) (param $hi v128) (param $row i32) (param $q i32) (param $dv i32) (param $d i32)
    (result f64)
    (local $a0 f64) (local $j i32)
    (local.set $a0 (f64x2.extract_lane 0 (local.get $lo)))
    (local.set $j (local.get $dv))
    (block $done
      (loop $tail
        (br_if $done (i32.ge_u (local.get $j) (local.get $d)))
        (local.set $a0
          (f64.add (local.get $a0)
            (f64.mul
              (f64.promote_f32 (f32.load (i32.add (local.get $row) (i32.shl (local.get $j) (i32.const 2)))))
              (f64.load (i32.add (local.get $q) (i32.shl (local.get $j) (i32.const 3)))))))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br $tail)))
    (f64.add
      (f64.add (local.get $a0) (f64x2.extract_lane 1 (local.get $lo)))
      (f64.add (f64x2.extract_lane 0 (local.get $hi)) (f64x2.extract_lane 1 (local.get $hi)))))

  ;; out[i] = Σ_j keys[i·stride/4 + j]·q[j] for i < rows.
  ;; keys: byte address of f32 rows (`stride` bytes apart); q: byte address of d doubles; out: byte
  ;; address of `rows` doubles.
  (func (export "dots") (param $keys i32) (param $q i32) (param $d i32) (param $stride i32) (param $rows i32) (param $out i32)
    (result i32)
    (local $touched i32) (local $dv i32) (local $vbytes i32) (local $i i32) (local $c i32) (local $qa i32)
    (local $p0 i32) (local $p1 i32) (local $p2 i32) (local $p3 i32)
    (local $ql v128) (local $qh v128)
    (local $a0 v128) (local $b0 v128) (local $a1 v128) (local $b1 v128)
    (local $a2 v128) (local $b2 v128) (local $a3 v128) (local $b3 v128)
    (local.set $dv (i32.and (local.get $d) (i32.const -4)))
    (local.set $vbytes (i32.shl (local.get $dv) (i32.const 2)))
    (local.set $p0 (local.get $keys))
    ;; Four rows at a time.
    (block $quads_done
      (loop $quads
        (br_if $quads_done (i32.gt_u (i32.add (local.get $i) (i32.const 4)) (local.get $rows)))
        (local.set $p1 (i32.add (local.get $p0) (local.get $stride)))
        (local.set $p2 (i32.add (local.get $p1) (local.get $stride)))
        (local.set $p3 (i32.add (local.get $p2) (local.get $stride)))
        (local.set $a0 (v128.const i64x2 0 0)) (local.set $b0 (v128.const i64x2 0 0))
        (local.set $a1 (v128.const i64x2 0 0)) (local.set $b1 (v128.const i64x2 0 0))
        (local.set $a2 (v128.const i64x2 0 0)) (local.set $b2 (v128.const i64x2 0 0))
        (local.set $a3 (v128.const i64x2 0 0)) (local.set $b3 (v128.const i64x2 0 0))
        (local.set $c (i32.const 0))
        (local.set $qa (local.get $q))
        (block $cols_done
          (loop $cols
            (br_if $cols_done (i32.ge_u (local.get $c) (local.get $vbytes)))
            (local.set $ql (v128.load (local.get $qa)))
            (local.set $qh (v128.load offset=16 (local.get $qa)))
            (local.set $touched (i32.xor (local.get $touched)
              (i32.load offset=4096 (i32.add (local.get $p0) (i32.shl (local.get $c) (i32.const 2))))))
            (local.set $a0 (f64x2.add (local.get $a0) (f64x2.mul (f64x2.promote_low_f32x4
              (v128.load64_zero (i32.add (local.get $p0) (local.get $c)))) (local.get $ql))))
            (local.set $b0 (f64x2.add (local.get $b0) (f64x2.mul (f64x2.promote_low_f32x4
              (v128.load64_zero offset=8 (i32.add (local.get $p0) (local.get $c)))) (local.get $qh))))
            (local.set $a1 (f64x2.add (local.get $a1) (f64x2.mul (f64x2.promote_low_f32x4
              (v128.load64_zero (i32.add (local.get $p1) (local.get $c)))) (local.get $ql))))
            (local.set $b1 (f64x2.add (local.get $b1) (f64x2.mul (f64x2.promote_low_f32x4
              (v128.load64_zero offset=8 (i32.add (local.get $p1) (local.get $c)))) (local.get $qh))))
            (local.set $a2 (f64x2.add (local.get $a2) (f64x2.mul (f64x2.promote_low_f32x4
              (v128.load64_zero (i32.add (local.get $p2) (local.get $c)))) (local.get $ql))))
            (local.set $b2 (f64x2.add (local.get $b2) (f64x2.mul (f64x2.promote_low_f32x4
              (v128.load64_zero offset=8 (i32.add (local.get $p2) (local.get $c)))) (local.get $qh))))
            (local.set $a3 (f64x2.add (local.get $a3) (f64x2.mul (f64x2.promote_low_f32x4
              (v128.load64_zero (i32.add (local.get $p3) (local.get $c)))) (local.get $ql))))
            (local.set $b3 (f64x2.add (local.get $b3) (f64x2.mul (f64x2.promote_low_f32x4
              (v128.load64_zero offset=8 (i32.add (local.get $p3) (local.get $c)))) (local.get $qh))))
            (local.set $c (i32.add (local.get $c) (i32.const 16)))
            (local.set $qa (i32.add (local.get $qa) (i32.const 32)))
            (br $cols)))
        (f64.store (local.get $out)
          (call $finish (local.get $a0) (local.get $b0) (local.get $p0) (local.get $q) (local.get $dv) (local.get $d)))
        (f64.store offset=8 (local.get $out)
          (call $finish (local.get $a1) (local.get $b1) (local.get $p1) (local.get $q) (local.get $dv) (local.get $d)))
        (f64.store offset=16 (local.get $out)
          (call $finish (local.get $a2) (local.get $b2) (local.get $p2) (local.get $q) (local.get $dv) (local.get $d)))
        (f64.store offset=24 (local.get $out)
          (call $finish (local.get $a3) (local.get $b3) (local.get $p3) (local.get $q) (local.get $dv) (local.get $d)))
        (local.set $p0 (i32.add (local.get $p3) (local.get $stride)))
        (local.set $out (i32.add (local.get $out) (i32.const 32)))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $quads)))
    ;; The remaining rows one at a time.
    (block $rows_done
      (loop $single
        (br_if $rows_done (i32.ge_u (local.get $i) (local.get $rows)))
        (local.set $a0 (v128.const i64x2 0 0)) (local.set $b0 (v128.const i64x2 0 0))
        (local.set $c (i32.const 0))
        (local.set $qa (local.get $q))
        (block $cols1_done
          (loop $cols1
            (br_if $cols1_done (i32.ge_u (local.get $c) (local.get $vbytes)))
            (local.set $a0 (f64x2.add (local.get $a0) (f64x2.mul (f64x2.promote_low_f32x4
              (v128.load64_zero (i32.add (local.get $p0) (local.get $c)))) (v128.load (local.get $qa)))))
            (local.set $b0 (f64x2.add (local.get $b0) (f64x2.mul (f64x2.promote_low_f32x4
              (v128.load64_zero offset=8 (i32.add (local.get $p0) (local.get $c)))) (v128.load offset=16 (local.get $qa)))))
            (local.set $c (i32.add (local.get $c) (i32.const 16)))
            (local.set $qa (i32.add (local.get $qa) (i32.const 32)))
            (br $cols1)))
        (f64.store (local.get $out)
          (call $finish (local.get $a0) (local.get $b0) (local.get $p0) (local.get $q) (local.get $dv) (local.get $d)))
        (local.set $p0 (i32.add (local.get $p0) (local.get $stride)))
        (local.set $out (i32.add (local.get $out) (i32.const 8)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $single)))
    (local.get $touched))

  ;; acc[j] ← acc[j] + w[i]·values[i·stride/4 + j] for rows i < rows in increasing order, j < s.
  ;; values: byte address of f32 rows (`stride` bytes apart); w: byte address of `rows` doubles;
  ;; acc: byte address of s doubles.
  (func (export "accum") (param $values i32) (param $w i32) (param $s i32) (param $stride i32) (param $rows i32) (param $acc i32)
    (result i32)
    (local $touched i32) (local $sv i32) (local $vbytes i32) (local $i i32) (local $c i32) (local $a i32) (local $j i32)
    (local $p0 i32) (local $p1 i32) (local $p2 i32) (local $p3 i32)
    (local $w0 v128) (local $w1 v128) (local $w2 v128) (local $w3 v128)
    (local $lo v128) (local $hi v128) (local $t f64)
    (local.set $sv (i32.and (local.get $s) (i32.const -4)))
    (local.set $vbytes (i32.shl (local.get $sv) (i32.const 2)))
    (local.set $p0 (local.get $values))
    (block $quads_done
      (loop $quads
        (br_if $quads_done (i32.gt_u (i32.add (local.get $i) (i32.const 4)) (local.get $rows)))
        (local.set $p1 (i32.add (local.get $p0) (local.get $stride)))
        (local.set $p2 (i32.add (local.get $p1) (local.get $stride)))
        (local.set $p3 (i32.add (local.get $p2) (local.get $stride)))
        (local.set $w0 (f64x2.splat (f64.load (local.get $w))))
        (local.set $w1 (f64x2.splat (f64.load offset=8 (local.get $w))))
        (local.set $w2 (f64x2.splat (f64.load offset=16 (local.get $w))))
        (local.set $w3 (f64x2.splat (f64.load offset=24 (local.get $w))))
        (local.set $c (i32.const 0))
        (local.set $a (local.get $acc))
        (block $cols_done
          (loop $cols
            (br_if $cols_done (i32.ge_u (local.get $c) (local.get $vbytes)))
            (local.set $lo (v128.load (local.get $a)))
            (local.set $hi (v128.load offset=16 (local.get $a)))
            (local.set $touched (i32.xor (local.get $touched)
              (i32.load offset=4096 (i32.add (local.get $p0) (i32.shl (local.get $c) (i32.const 2))))))
            (local.set $lo (f64x2.add (local.get $lo) (f64x2.mul (local.get $w0)
              (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $p0) (local.get $c)))))))
            (local.set $hi (f64x2.add (local.get $hi) (f64x2.mul (local.get $w0)
              (f64x2.promote_low_f32x4 (v128.load64_zero offset=8 (i32.add (local.get $p0) (local.get $c)))))))
            (local.set $lo (f64x2.add (local.get $lo) (f64x2.mul (local.get $w1)
              (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $p1) (local.get $c)))))))
            (local.set $hi (f64x2.add (local.get $hi) (f64x2.mul (local.get $w1)
              (f64x2.promote_low_f32x4 (v128.load64_zero offset=8 (i32.add (local.get $p1) (local.get $c)))))))
            (local.set $lo (f64x2.add (local.get $lo) (f64x2.mul (local.get $w2)
              (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $p2) (local.get $c)))))))
            (local.set $hi (f64x2.add (local.get $hi) (f64x2.mul (local.get $w2)
              (f64x2.promote_low_f32x4 (v128.load64_zero offset=8 (i32.add (local.get $p2) (local.get $c)))))))
            (local.set $lo (f64x2.add (local.get $lo) (f64x2.mul (local.get $w3)
              (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $p3) (local.get $c)))))))
            (local.set $hi (f64x2.add (local.get $hi) (f64x2.mul (local.get $w3)
              (f64x2.promote_low_f32x4 (v128.load64_zero offset=8 (i32.add (local.get $p3) (local.get $c)))))))
            (v128.store (local.get $a) (local.get $lo))
            (v128.store offset=16 (local.get $a) (local.get $hi))
            (local.set $c (i32.add (local.get $c) (i32.const 16)))
            (local.set $a (i32.add (local.get $a) (i32.const 32)))
            (br $cols)))
        ;; Tail columns sv..s-1, the four rows still in increasing order for each element.
        (local.set $j (local.get $sv))
        (block $tail_done
          (loop $tail
            (br_if $tail_done (i32.ge_u (local.get $j) (local.get $s)))
            (local.set $c (i32.shl (local.get $j) (i32.const 2)))
            (local.set $a (i32.add (local.get $acc) (i32.shl (local.get $j) (i32.const 3))))
            (local.set $t (f64.load (local.get $a)))
            (local.set $t (f64.add (local.get $t) (f64.mul (f64x2.extract_lane 0 (local.get $w0))
              (f64.promote_f32 (f32.load (i32.add (local.get $p0) (local.get $c)))))))
            (local.set $t (f64.add (local.get $t) (f64.mul (f64x2.extract_lane 0 (local.get $w1))
              (f64.promote_f32 (f32.load (i32.add (local.get $p1) (local.get $c)))))))
            (local.set $t (f64.add (local.get $t) (f64.mul (f64x2.extract_lane 0 (local.get $w2))
              (f64.promote_f32 (f32.load (i32.add (local.get $p2) (local.get $c)))))))
            (local.set $t (f64.add (local.get $t) (f64.mul (f64x2.extract_lane 0 (local.get $w3))
              (f64.promote_f32 (f32.load (i32.add (local.get $p3) (local.get $c)))))))
            (f64.store (local.get $a) (local.get $t))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $tail)))
        (local.set $p0 (i32.add (local.get $p3) (local.get $stride)))
        (local.set $w (i32.add (local.get $w) (i32.const 32)))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $quads)))
    ;; The remaining rows one at a time.
    (block $rows_done
      (loop $single
        (br_if $rows_done (i32.ge_u (local.get $i) (local.get $rows)))
        (local.set $w0 (f64x2.splat (f64.load (local.get $w))))
        (local.set $c (i32.const 0))
        (local.set $a (local.get $acc))
        (block $cols1_done
          (loop $cols1
            (br_if $cols1_done (i32.ge_u (local.get $c) (local.get $vbytes)))
            (v128.store (local.get $a)
              (f64x2.add (v128.load (local.get $a)) (f64x2.mul (local.get $w0)
                (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $p0) (local.get $c)))))))
            (v128.store offset=16 (local.get $a)
              (f64x2.add (v128.load offset=16 (local.get $a)) (f64x2.mul (local.get $w0)
                (f64x2.promote_low_f32x4 (v128.load64_zero offset=8 (i32.add (local.get $p0) (local.get $c)))))))
            (local.set $c (i32.add (local.get $c) (i32.const 16)))
            (local.set $a (i32.add (local.get $a) (i32.const 32)))
            (br $cols1)))
        (local.set $j (local.get $sv))
        (block $tail1_done
          (loop $tail1
            (br_if $tail1_done (i32.ge_u (local.get $j) (local.get $s)))
            (local.set $a (i32.add (local.get $acc) (i32.shl (local.get $j) (i32.const 3))))
            (f64.store (local.get $a)
              (f64.add (f64.load (local.get $a)) (f64.mul (f64x2.extract_lane 0 (local.get $w0))
                (f64.promote_f32 (f32.load (i32.add (local.get $p0) (i32.shl (local.get $j) (i32.const 2))))))))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $tail1)))
        (local.set $p0 (i32.add (local.get $p0) (local.get $stride)))
        (local.set $w (i32.add (local.get $w) (i32.const 8)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $single)))
    (local.get $touched))
)
