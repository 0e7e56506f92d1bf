;; Float32 attention over float32 records in one pass (each row's score, then its weighted value,
;; against a running reference), with each block's sums merged into Float64 totals (online
;; log-sum-exp across blocks); the per-block parts (scores, weights, values) serve callers that
;; need every row's probability.
;;
;; Source of `wasm-attention-f32-bytes.ts` (baseline SIMD128) and its relaxed-SIMD twin: `pnpm
;; build:wasm` expands every `(MADD acc x y)` to `(f32x4.add acc (f32x4.mul x y))`, or to
;; `(f32x4.relaxed_madd x y acc)` (a fused multiply-add where the CPU has one) for the relaxed
;; build, which loads only where the engine validates relaxed SIMD (Node 22 and current browsers).
;;
;; Records: a row's key (d floats) then its value (s floats), `stride` bytes apart, optionally a
;; log-weight at byte `lw` of the record (lw < 0: none). d and s are multiples of 4.
;;
;; Accuracy: scores and values in f32 lanes (4 accumulators per row for the dot product); the
;; exponential is Cephes' expf (range reduction by a two-part ln 2, degree-6 polynomial), relative
;; error below 3e-7 on [−87, 8]; arguments below −87 give at most 1.7e-38 instead of less. Block
;; sums (256 rows) are f32, their merge into the running totals is f64.
(module
  (import "env" "memory" (memory 1))

  ;; e^x per lane, for x ≤ 8 (x is clamped to [−87, 8]).
  (func $exp (param $x v128) (result v128)
    (local $fx v128) (local $y v128) (local $z v128)
    (local.set $x (f32x4.max (f32x4.min (local.get $x) (f32x4.splat (f32.const 8))) (f32x4.splat (f32.const -87))))
    ;; fx = round(x·log2 e)
    (local.set $fx (f32x4.nearest (f32x4.mul (local.get $x) (f32x4.splat (f32.const 1.44269504088896341)))))
    ;; x − fx·ln 2 in two parts (C1 exact in a few bits, C2 the rest)
    (local.set $x (f32x4.sub (local.get $x) (f32x4.mul (local.get $fx) (f32x4.splat (f32.const 0.693359375)))))
    (local.set $x (f32x4.sub (local.get $x) (f32x4.mul (local.get $fx) (f32x4.splat (f32.const -2.12194440e-4)))))
    (local.set $z (f32x4.mul (local.get $x) (local.get $x)))
    (local.set $y (f32x4.splat (f32.const 1.9875691500e-4)))
    (local.set $y (MADD (f32x4.splat (f32.const 1.3981999507e-3)) (local.get $y) (local.get $x)))
    (local.set $y (MADD (f32x4.splat (f32.const 8.3334519073e-3)) (local.get $y) (local.get $x)))
    (local.set $y (MADD (f32x4.splat (f32.const 4.1665795894e-2)) (local.get $y) (local.get $x)))
    (local.set $y (MADD (f32x4.splat (f32.const 1.6666665459e-1)) (local.get $y) (local.get $x)))
    (local.set $y (MADD (f32x4.splat (f32.const 5.0000001201e-1)) (local.get $y) (local.get $x)))
    (local.set $y (MADD (f32x4.add (local.get $x) (f32x4.splat (f32.const 1))) (local.get $y) (local.get $z)))
    ;; · 2^fx through the exponent bits (fx ∈ [−126, 12] here)
    (f32x4.mul (local.get $y)
      (i32x4.shl (i32x4.add (i32x4.trunc_sat_f32x4_s (local.get $fx)) (i32x4.splat (i32.const 127))) (i32.const 23))))

  ;; e^x for one f32 (lane 0 of the vector kernel).
  (func $exp1 (param $x f32) (result f32)
    (f32x4.extract_lane 0 (call $exp (f32x4.splat (local.get $x)))))

  ;; Horizontal sums of four vectors, as one vector [Σa, Σb, Σc, Σd].
  (func $hsum4 (param $a v128) (param $b v128) (param $c v128) (param $d v128) (result v128)
    (local $ab v128) (local $cd v128)
    (local.set $ab (f32x4.add
      (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $a) (local.get $b))
      (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $a) (local.get $b))))
    (local.set $cd (f32x4.add
      (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $c) (local.get $d))
      (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $c) (local.get $d))))
    (f32x4.add
      (i8x16.shuffle 0 1 2 3 8 9 10 11 16 17 18 19 24 25 26 27 (local.get $ab) (local.get $cd))
      (i8x16.shuffle 4 5 6 7 12 13 14 15 20 21 22 23 28 29 30 31 (local.get $ab) (local.get $cd))))

  ;; scores[i] = τ·<key_i, q> (+ lw_i) for i < rows; returns the maximum. One row at a time, in
  ;; address order: reading four records side by side defeats the prefetchers (2.3× slower here
  ;; for float32 keys beside int4 values).
  (func $scores (param $rec i32) (param $stride i32) (param $d i32) (param $rows i32) (param $lw i32)
    (param $tau f32) (param $q i32) (param $out i32) (result f32)
    (local $i i32) (local $c i32) (local $bytes i32) (local $p0 i32)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128) (local $m f32) (local $t f32)
    (local.set $bytes (i32.shl (local.get $d) (i32.const 2)))
    (local.set $m (f32.const -inf))
    (local.set $p0 (local.get $rec))
    (block $rows_done
      (loop $each
        (br_if $rows_done (i32.ge_u (local.get $i) (local.get $rows)))
        ;; four accumulators over 64-byte steps, then 16-byte steps (as attend does)
        (local.set $a0 (v128.const i64x2 0 0)) (local.set $a1 (v128.const i64x2 0 0))
        (local.set $a2 (v128.const i64x2 0 0)) (local.set $a3 (v128.const i64x2 0 0))
        (local.set $c (i32.const 0))
        (block $c64_done
          (loop $c64
            (br_if $c64_done (i32.gt_u (i32.add (local.get $c) (i32.const 64)) (local.get $bytes)))
            (local.set $a0 (MADD (local.get $a0) (v128.load (i32.add (local.get $p0) (local.get $c))) (v128.load (i32.add (local.get $q) (local.get $c)))))
            (local.set $a1 (MADD (local.get $a1) (v128.load offset=16 (i32.add (local.get $p0) (local.get $c))) (v128.load offset=16 (i32.add (local.get $q) (local.get $c)))))
            (local.set $a2 (MADD (local.get $a2) (v128.load offset=32 (i32.add (local.get $p0) (local.get $c))) (v128.load offset=32 (i32.add (local.get $q) (local.get $c)))))
            (local.set $a3 (MADD (local.get $a3) (v128.load offset=48 (i32.add (local.get $p0) (local.get $c))) (v128.load offset=48 (i32.add (local.get $q) (local.get $c)))))
            (local.set $c (i32.add (local.get $c) (i32.const 64)))
            (br $c64)))
        (block $c16_done
          (loop $c16
            (br_if $c16_done (i32.ge_u (local.get $c) (local.get $bytes)))
            (local.set $a0 (MADD (local.get $a0) (v128.load (i32.add (local.get $p0) (local.get $c))) (v128.load (i32.add (local.get $q) (local.get $c)))))
            (local.set $c (i32.add (local.get $c) (i32.const 16)))
            (br $c16)))
        (local.set $a0 (f32x4.add (f32x4.add (local.get $a0) (local.get $a1)) (f32x4.add (local.get $a2) (local.get $a3))))
        (local.set $t (f32.mul (local.get $tau)
          (f32x4.extract_lane 0 (call $hsum4 (local.get $a0) (local.get $a0) (local.get $a0) (local.get $a0)))))
        (if (i32.ge_s (local.get $lw) (i32.const 0))
          (then (local.set $t (f32.add (local.get $t) (f32.load (i32.add (local.get $p0) (local.get $lw)))))))
        (f32.store (i32.add (local.get $out) (i32.shl (local.get $i) (i32.const 2))) (local.get $t))
        (local.set $m (f32.max (local.get $m) (local.get $t)))
        (local.set $p0 (i32.add (local.get $p0) (local.get $stride)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $each)))
    (local.get $m))

  ;; w[i] = e^{scores[i] − m} in place for i < rows; returns Σ w.
  (func $weights (param $w i32) (param $rows i32) (param $m f32) (result f32)
    (local $i i32) (local $e v128) (local $z v128) (local $zs f32) (local $t f32)
    (local.set $z (v128.const i64x2 0 0))
    (block $done
      (loop $quads
        (br_if $done (i32.gt_u (i32.add (local.get $i) (i32.const 4)) (local.get $rows)))
        (local.set $e (call $exp (f32x4.sub (v128.load (local.get $w)) (f32x4.splat (local.get $m)))))
        (v128.store (local.get $w) (local.get $e))
        (local.set $z (f32x4.add (local.get $z) (local.get $e)))
        (local.set $w (i32.add (local.get $w) (i32.const 16)))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $quads)))
    (local.set $zs (f32.add
      (f32.add (f32x4.extract_lane 0 (local.get $z)) (f32x4.extract_lane 1 (local.get $z)))
      (f32.add (f32x4.extract_lane 2 (local.get $z)) (f32x4.extract_lane 3 (local.get $z)))))
    (block $tail_done
      (loop $tail
        (br_if $tail_done (i32.ge_u (local.get $i) (local.get $rows)))
        (local.set $t (call $exp1 (f32.sub (f32.load (local.get $w)) (local.get $m))))
        (f32.store (local.get $w) (local.get $t))
        (local.set $zs (f32.add (local.get $zs) (local.get $t)))
        (local.set $w (i32.add (local.get $w) (i32.const 4)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $tail)))
    (local.get $zs))

  ;; acc[j] = Σ_i w[i]·value_i[j] for i < rows (acc is overwritten), values at `val` (stride);
  ;; one row at a time, in address order (as $scores).
  (func $values (param $val i32) (param $stride i32) (param $s i32) (param $rows i32) (param $w i32) (param $acc i32)
    (local $i i32) (local $c i32) (local $bytes i32) (local $p0 i32) (local $w0 v128)
    (local.set $bytes (i32.shl (local.get $s) (i32.const 2)))
    (memory.fill (local.get $acc) (i32.const 0) (local.get $bytes))
    (local.set $p0 (local.get $val))
    (block $rows_done
      (loop $each
        (br_if $rows_done (i32.ge_u (local.get $i) (local.get $rows)))
        (local.set $w0 (v128.load32_splat (local.get $w)))
        (local.set $c (i32.const 0))
        (block $c64_done
          (loop $c64
            (br_if $c64_done (i32.gt_u (i32.add (local.get $c) (i32.const 64)) (local.get $bytes)))
            (v128.store (i32.add (local.get $acc) (local.get $c))
              (MADD (v128.load (i32.add (local.get $acc) (local.get $c))) (local.get $w0) (v128.load (i32.add (local.get $p0) (local.get $c)))))
            (v128.store offset=16 (i32.add (local.get $acc) (local.get $c))
              (MADD (v128.load offset=16 (i32.add (local.get $acc) (local.get $c))) (local.get $w0) (v128.load offset=16 (i32.add (local.get $p0) (local.get $c)))))
            (v128.store offset=32 (i32.add (local.get $acc) (local.get $c))
              (MADD (v128.load offset=32 (i32.add (local.get $acc) (local.get $c))) (local.get $w0) (v128.load offset=32 (i32.add (local.get $p0) (local.get $c)))))
            (v128.store offset=48 (i32.add (local.get $acc) (local.get $c))
              (MADD (v128.load offset=48 (i32.add (local.get $acc) (local.get $c))) (local.get $w0) (v128.load offset=48 (i32.add (local.get $p0) (local.get $c)))))
            (local.set $c (i32.add (local.get $c) (i32.const 64)))
            (br $c64)))
        (block $c16_done
          (loop $c16
            (br_if $c16_done (i32.ge_u (local.get $c) (local.get $bytes)))
            (v128.store (i32.add (local.get $acc) (local.get $c))
              (MADD (v128.load (i32.add (local.get $acc) (local.get $c))) (local.get $w0) (v128.load (i32.add (local.get $p0) (local.get $c)))))
            (local.set $c (i32.add (local.get $c) (i32.const 16)))
            (br $c16)))
        (local.set $p0 (i32.add (local.get $p0) (local.get $stride)))
        (local.set $w (i32.add (local.get $w) (i32.const 4)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $each))))

  ;; Merges one block (max mb, Σw zb, acc[s] f32) into the totals at `tot`: f64 m, f64 z, f64 n[s].
  (func $merge (param $tot i32) (param $mb f32) (param $zb f32) (param $acc i32) (param $s i32)
    (local $m f64) (local $a f64) (local $b f64) (local $j i32) (local $p i32) (local $q i32)
    (local.set $m (f64.load (local.get $tot)))
    (if (f64.ge (local.get $m) (f64.promote_f32 (local.get $mb)))
      (then
        (local.set $a (f64.const 1))
        (local.set $b (f64.promote_f32 (call $exp1 (f32.demote_f64 (f64.sub (f64.promote_f32 (local.get $mb)) (local.get $m)))))))
      (else
        (local.set $a (select (f64.const 0)
          (f64.promote_f32 (call $exp1 (f32.demote_f64 (f64.sub (local.get $m) (f64.promote_f32 (local.get $mb))))))
          (f64.eq (local.get $m) (f64.const -inf))))
        (local.set $b (f64.const 1))
        (f64.store (local.get $tot) (f64.promote_f32 (local.get $mb)))))
    (f64.store offset=8 (local.get $tot)
      (f64.add (f64.mul (f64.load offset=8 (local.get $tot)) (local.get $a)) (f64.mul (f64.promote_f32 (local.get $zb)) (local.get $b))))
    (local.set $p (i32.add (local.get $tot) (i32.const 16)))
    (local.set $q (local.get $acc))
    (block $done
      (loop $each
        (br_if $done (i32.ge_u (local.get $j) (local.get $s)))
        (f64.store (local.get $p)
          (f64.add (f64.mul (f64.load (local.get $p)) (local.get $a)) (f64.mul (f64.promote_f32 (f32.load (local.get $q))) (local.get $b))))
        (local.set $p (i32.add (local.get $p) (i32.const 8)))
        (local.set $q (i32.add (local.get $q) (i32.const 4)))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br $each))))

  ;; The dot products <key_r, q> of four records (`stride` bytes apart from p, keys of kb bytes), one
  ;; row at a time in address order with four accumulators each, as one vector.
  (func $dots4 (param $p i32) (param $stride i32) (param $kb i32) (param $q i32) (result v128)
    (local $r i32) (local $c i32) (local $end i32)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local $d0 v128) (local $d1 v128) (local $d2 v128) (local $d3 v128)
    (local.set $end (i32.and (local.get $kb) (i32.const -64)))
    (loop $rows
      (local.set $a0 (v128.const i64x2 0 0)) (local.set $a1 (v128.const i64x2 0 0))
      (local.set $a2 (v128.const i64x2 0 0)) (local.set $a3 (v128.const i64x2 0 0))
      (local.set $c (i32.const 0))
      (block $k64_done
        (loop $k64
          (br_if $k64_done (i32.ge_u (local.get $c) (local.get $end)))
          (local.set $a0 (MADD (local.get $a0) (v128.load (i32.add (local.get $p) (local.get $c))) (v128.load (i32.add (local.get $q) (local.get $c)))))
          (local.set $a1 (MADD (local.get $a1) (v128.load offset=16 (i32.add (local.get $p) (local.get $c))) (v128.load offset=16 (i32.add (local.get $q) (local.get $c)))))
          (local.set $a2 (MADD (local.get $a2) (v128.load offset=32 (i32.add (local.get $p) (local.get $c))) (v128.load offset=32 (i32.add (local.get $q) (local.get $c)))))
          (local.set $a3 (MADD (local.get $a3) (v128.load offset=48 (i32.add (local.get $p) (local.get $c))) (v128.load offset=48 (i32.add (local.get $q) (local.get $c)))))
          (local.set $c (i32.add (local.get $c) (i32.const 64)))
          (br $k64)))
      (block $k16_done
        (loop $k16
          (br_if $k16_done (i32.ge_u (local.get $c) (local.get $kb)))
          (local.set $a0 (MADD (local.get $a0) (v128.load (i32.add (local.get $p) (local.get $c))) (v128.load (i32.add (local.get $q) (local.get $c)))))
          (local.set $c (i32.add (local.get $c) (i32.const 16)))
          (br $k16)))
      ;; after four rows d3 holds the first one's lanes and d0 the last one's
      (local.set $d3 (local.get $d2)) (local.set $d2 (local.get $d1)) (local.set $d1 (local.get $d0))
      (local.set $d0 (f32x4.add (f32x4.add (local.get $a0) (local.get $a1)) (f32x4.add (local.get $a2) (local.get $a3))))
      (local.set $p (i32.add (local.get $p) (local.get $stride)))
      (local.set $r (i32.add (local.get $r) (i32.const 1)))
      (br_if $rows (i32.lt_u (local.get $r) (i32.const 4))))
    (call $hsum4 (local.get $d3) (local.get $d2) (local.get $d1) (local.get $d0)))

  ;; Attention sums over `rows` records from `rec`, merged into the totals at `tot` (f64 m, z,
  ;; n[s]; start from m = −∞, z = 0, n = 0), in one pass over the records in address order: each
  ;; row's score, then at once its weighted value. Reading a row's key and value back to back keeps
  ;; the hardware prefetchers streaming (two passes per block, keys then values of the same
  ;; records, read DRAM at a third of the speed). Weights are e^{score − r} against a reference r
  ;; that is raised (rescaling the block's sums) only when a score passes r + 8, so rescales are
  ;; rare and every weight stays below e^8. Every `block` rows the block's sums are merged into the
  ;; Float64 totals. `w` is unused (kept for the callers' argument layout); `acc` holds s f32.
  ;; `scores` ≥ 0: each row's score is also written there (f32, in row order), for callers that
  ;; need every row's probability.
  (func $attendRows (param $rec i32) (param $stride i32) (param $d i32) (param $s i32) (param $rows i32)
    (param $lw i32) (param $tau f32) (param $q i32) (param $w i32) (param $acc i32) (param $tot i32) (param $block i32)
    (param $scores i32)
    (local $i i32) (local $left i32) (local $p i32) (local $c i32) (local $kb i32) (local $vb i32) (local $end i32)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128) (local $wv v128)
    (local $sc f32) (local $r f32) (local $z f32) (local $e f32) (local $byFour i32)
    (local $s4 v128) (local $w0 v128) (local $w1 v128) (local $w2 v128) (local $w3 v128) (local $v0 i32) (local $v1 i32) (local $v2 i32) (local $v3 i32)
    (local.set $kb (i32.shl (local.get $d) (i32.const 2)))
    (local.set $vb (i32.shl (local.get $s) (i32.const 2)))
    (local.set $byFour (i32.le_u (i32.add (local.get $kb) (local.get $vb)) (i32.const 512)))
    (local.set $p (local.get $rec))
    (block $done
      (loop $blocks
        (br_if $done (i32.ge_u (local.get $i) (local.get $rows)))
        (local.set $left (i32.sub (local.get $rows) (local.get $i)))
        (if (i32.gt_u (local.get $left) (local.get $block)) (then (local.set $left (local.get $block))))
        (local.set $i (i32.add (local.get $i) (local.get $left)))
        (local.set $r (f32.const -inf))
        (local.set $z (f32.const 0))
        (memory.fill (local.get $acc) (i32.const 0) (local.get $vb))
        ;; Records of up to 512 bytes, four rows at a time: their scores in one vector (one exponential
        ;; for the four), one pass of the accumulators for their four values; the single-row loop
        ;; takes the rest. 25% faster at d = 64 in cache and from DRAM; for longer records reading
        ;; four records' keys, then their values, defeats the prefetchers (3× slower at d = 128).
        (block $quads_done
          (loop $quads
            (br_if $quads_done (i32.or (i32.lt_u (local.get $left) (i32.const 4)) (i32.eqz (local.get $byFour))))
            (local.set $s4 (f32x4.mul (f32x4.splat (local.get $tau)) (call $dots4 (local.get $p) (local.get $stride) (local.get $kb) (local.get $q))))
            (if (i32.ge_s (local.get $lw) (i32.const 0))
              (then (local.set $s4 (f32x4.add (local.get $s4)
                (f32x4.replace_lane 3 (f32x4.replace_lane 2 (f32x4.replace_lane 1
                  (v128.load32_splat (i32.add (local.get $p) (local.get $lw)))
                  (f32.load (i32.add (i32.add (local.get $p) (local.get $stride)) (local.get $lw))))
                  (f32.load (i32.add (i32.add (local.get $p) (i32.shl (local.get $stride) (i32.const 1))) (local.get $lw))))
                  (f32.load (i32.add (i32.add (local.get $p) (i32.mul (local.get $stride) (i32.const 3))) (local.get $lw))))))))
            (if (i32.ge_s (local.get $scores) (i32.const 0))
              (then
                (v128.store (local.get $scores) (local.get $s4))
                (local.set $scores (i32.add (local.get $scores) (i32.const 16)))))
            (local.set $sc (f32.max (f32.max (f32x4.extract_lane 0 (local.get $s4)) (f32x4.extract_lane 1 (local.get $s4)))
              (f32.max (f32x4.extract_lane 2 (local.get $s4)) (f32x4.extract_lane 3 (local.get $s4)))))
            ;; Four rows of log-weight −∞ add nothing.
            (if (f32.ne (local.get $sc) (f32.const -inf))
              (then
                (if (f32.gt (local.get $sc) (f32.add (local.get $r) (f32.const 8)))
                  (then
                    (if (f32.ne (local.get $r) (f32.const -inf))
                      (then
                        (local.set $e (call $exp1 (f32.sub (local.get $r) (local.get $sc))))
                        (local.set $z (f32.mul (local.get $z) (local.get $e)))
                        (local.set $wv (f32x4.splat (local.get $e)))
                        (local.set $c (i32.const 0))
                        (block $qsc_done
                          (loop $qrescale
                            (br_if $qsc_done (i32.ge_u (local.get $c) (local.get $vb)))
                            (v128.store (i32.add (local.get $acc) (local.get $c)) (f32x4.mul (v128.load (i32.add (local.get $acc) (local.get $c))) (local.get $wv)))
                            (local.set $c (i32.add (local.get $c) (i32.const 16)))
                            (br $qrescale)))))
                    (local.set $r (local.get $sc))))
                ;; weights e^(s − r), 0 where s = −∞ (the exponential stops at e^−87)
                (local.set $wv (v128.andnot (call $exp (f32x4.sub (local.get $s4) (f32x4.splat (local.get $r))))
                  (f32x4.eq (local.get $s4) (f32x4.splat (f32.const -inf)))))
                (local.set $z (f32.add (local.get $z)
                  (f32.add (f32.add (f32x4.extract_lane 0 (local.get $wv)) (f32x4.extract_lane 1 (local.get $wv)))
                    (f32.add (f32x4.extract_lane 2 (local.get $wv)) (f32x4.extract_lane 3 (local.get $wv))))))
                (local.set $w0 (i8x16.shuffle 0 1 2 3 0 1 2 3 0 1 2 3 0 1 2 3 (local.get $wv) (local.get $wv)))
                (local.set $w1 (i8x16.shuffle 4 5 6 7 4 5 6 7 4 5 6 7 4 5 6 7 (local.get $wv) (local.get $wv)))
                (local.set $w2 (i8x16.shuffle 8 9 10 11 8 9 10 11 8 9 10 11 8 9 10 11 (local.get $wv) (local.get $wv)))
                (local.set $w3 (i8x16.shuffle 12 13 14 15 12 13 14 15 12 13 14 15 12 13 14 15 (local.get $wv) (local.get $wv)))
                (local.set $v0 (i32.add (local.get $p) (local.get $kb)))
                (local.set $v1 (i32.add (local.get $v0) (local.get $stride)))
                (local.set $v2 (i32.add (local.get $v1) (local.get $stride)))
                (local.set $v3 (i32.add (local.get $v2) (local.get $stride)))
                (local.set $c (i32.const 0))
                (block $qv_done
                  (loop $qv
                    (br_if $qv_done (i32.ge_u (local.get $c) (local.get $vb)))
                    (v128.store (i32.add (local.get $acc) (local.get $c))
                      (MADD (MADD (MADD (MADD (v128.load (i32.add (local.get $acc) (local.get $c)))
                        (local.get $w0) (v128.load (i32.add (local.get $v0) (local.get $c))))
                        (local.get $w1) (v128.load (i32.add (local.get $v1) (local.get $c))))
                        (local.get $w2) (v128.load (i32.add (local.get $v2) (local.get $c))))
                        (local.get $w3) (v128.load (i32.add (local.get $v3) (local.get $c)))))
                    (local.set $c (i32.add (local.get $c) (i32.const 16)))
                    (br $qv)))))
            (local.set $p (i32.add (local.get $p) (i32.shl (local.get $stride) (i32.const 2))))
            (local.set $left (i32.sub (local.get $left) (i32.const 4)))
            (br $quads)))
        (if (local.get $left) (then
        (loop $each_row
          ;; score = τ·<k, q> (+ lw): four accumulators over 64-byte steps, then 16-byte steps
          (local.set $a0 (v128.const i64x2 0 0)) (local.set $a1 (v128.const i64x2 0 0))
          (local.set $a2 (v128.const i64x2 0 0)) (local.set $a3 (v128.const i64x2 0 0))
          (local.set $c (i32.const 0))
          (local.set $end (i32.and (local.get $kb) (i32.const -64)))
          (block $k64_done
            (loop $k64
              (br_if $k64_done (i32.ge_u (local.get $c) (local.get $end)))
              (local.set $a0 (MADD (local.get $a0) (v128.load (i32.add (local.get $p) (local.get $c))) (v128.load (i32.add (local.get $q) (local.get $c)))))
              (local.set $a1 (MADD (local.get $a1) (v128.load offset=16 (i32.add (local.get $p) (local.get $c))) (v128.load offset=16 (i32.add (local.get $q) (local.get $c)))))
              (local.set $a2 (MADD (local.get $a2) (v128.load offset=32 (i32.add (local.get $p) (local.get $c))) (v128.load offset=32 (i32.add (local.get $q) (local.get $c)))))
              (local.set $a3 (MADD (local.get $a3) (v128.load offset=48 (i32.add (local.get $p) (local.get $c))) (v128.load offset=48 (i32.add (local.get $q) (local.get $c)))))
              (local.set $c (i32.add (local.get $c) (i32.const 64)))
              (br $k64)))
          (block $k16_done
            (loop $k16
              (br_if $k16_done (i32.ge_u (local.get $c) (local.get $kb)))
              (local.set $a0 (MADD (local.get $a0) (v128.load (i32.add (local.get $p) (local.get $c))) (v128.load (i32.add (local.get $q) (local.get $c)))))
              (local.set $c (i32.add (local.get $c) (i32.const 16)))
              (br $k16)))
          (local.set $a0 (f32x4.add (f32x4.add (local.get $a0) (local.get $a1)) (f32x4.add (local.get $a2) (local.get $a3))))
          (local.set $a0 (f32x4.add (local.get $a0) (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $a0) (local.get $a0))))
          (local.set $sc (f32.mul (local.get $tau)
            (f32.add (f32x4.extract_lane 0 (local.get $a0)) (f32x4.extract_lane 1 (local.get $a0)))))
          (if (i32.ge_s (local.get $lw) (i32.const 0))
            (then (local.set $sc (f32.add (local.get $sc) (f32.load (i32.add (local.get $p) (local.get $lw)))))))
          (if (i32.ge_s (local.get $scores) (i32.const 0))
            (then
              (f32.store (local.get $scores) (local.get $sc))
              (local.set $scores (i32.add (local.get $scores) (i32.const 4)))))
          ;; A row of log-weight −∞ adds nothing.
          (if (f32.ne (local.get $sc) (f32.const -inf))
            (then
              ;; Raise the reference to this score when it passes r + 8 (rescaling what the block holds).
              (if (f32.gt (local.get $sc) (f32.add (local.get $r) (f32.const 8)))
                (then
                  (if (f32.ne (local.get $r) (f32.const -inf))
                    (then
                      (local.set $e (call $exp1 (f32.sub (local.get $r) (local.get $sc))))
                      (local.set $z (f32.mul (local.get $z) (local.get $e)))
                      (local.set $wv (f32x4.splat (local.get $e)))
                      (local.set $c (i32.const 0))
                      (block $sc_done
                        (loop $rescale
                          (br_if $sc_done (i32.ge_u (local.get $c) (local.get $vb)))
                          (v128.store (i32.add (local.get $acc) (local.get $c)) (f32x4.mul (v128.load (i32.add (local.get $acc) (local.get $c))) (local.get $wv)))
                          (local.set $c (i32.add (local.get $c) (i32.const 16)))
                          (br $rescale)))))
                  (local.set $r (local.get $sc))))
              (local.set $e (call $exp1 (f32.sub (local.get $sc) (local.get $r))))
              (local.set $z (f32.add (local.get $z) (local.get $e)))
              ;; acc += e·value
              (local.set $wv (f32x4.splat (local.get $e)))
              (local.set $c (i32.const 0))
              (local.set $end (i32.and (local.get $vb) (i32.const -64)))
              (block $v64_done
                (loop $v64
                  (br_if $v64_done (i32.ge_u (local.get $c) (local.get $end)))
                  (v128.store (i32.add (local.get $acc) (local.get $c))
                    (MADD (v128.load (i32.add (local.get $acc) (local.get $c))) (local.get $wv) (v128.load (i32.add (i32.add (local.get $p) (local.get $kb)) (local.get $c)))))
                  (v128.store offset=16 (i32.add (local.get $acc) (local.get $c))
                    (MADD (v128.load offset=16 (i32.add (local.get $acc) (local.get $c))) (local.get $wv) (v128.load offset=16 (i32.add (i32.add (local.get $p) (local.get $kb)) (local.get $c)))))
                  (v128.store offset=32 (i32.add (local.get $acc) (local.get $c))
                    (MADD (v128.load offset=32 (i32.add (local.get $acc) (local.get $c))) (local.get $wv) (v128.load offset=32 (i32.add (i32.add (local.get $p) (local.get $kb)) (local.get $c)))))
                  (v128.store offset=48 (i32.add (local.get $acc) (local.get $c))
                    (MADD (v128.load offset=48 (i32.add (local.get $acc) (local.get $c))) (local.get $wv) (v128.load offset=48 (i32.add (i32.add (local.get $p) (local.get $kb)) (local.get $c)))))
                  (local.set $c (i32.add (local.get $c) (i32.const 64)))
                  (br $v64)))
              (block $v16_done
                (loop $v16
                  (br_if $v16_done (i32.ge_u (local.get $c) (local.get $vb)))
                  (v128.store (i32.add (local.get $acc) (local.get $c))
                    (MADD (v128.load (i32.add (local.get $acc) (local.get $c))) (local.get $wv) (v128.load (i32.add (i32.add (local.get $p) (local.get $kb)) (local.get $c)))))
                  (local.set $c (i32.add (local.get $c) (i32.const 16)))
                  (br $v16)))))
          (local.set $p (i32.add (local.get $p) (local.get $stride)))
          (local.set $left (i32.sub (local.get $left) (i32.const 1)))
          (br_if $each_row (local.get $left)))))
        ;; A block whose every log-weight is −∞ adds nothing.
        (if (f32.ne (local.get $r) (f32.const -inf))
          (then (call $merge (local.get $tot) (local.get $r) (local.get $z) (local.get $acc) (local.get $s))))
        (br $blocks))))

  (func (export "attend") (param $rec i32) (param $stride i32) (param $d i32) (param $s i32) (param $rows i32)
    (param $lw i32) (param $tau f32) (param $q i32) (param $w i32) (param $acc i32) (param $tot i32) (param $block i32)
    (call $attendRows (local.get $rec) (local.get $stride) (local.get $d) (local.get $s) (local.get $rows) (local.get $lw)
      (local.get $tau) (local.get $q) (local.get $w) (local.get $acc) (local.get $tot) (local.get $block) (i32.const -1)))

  ;; attend, and each row's score into `scores` (f32, row order).
  (func (export "attendScores") (param $rec i32) (param $stride i32) (param $d i32) (param $s i32) (param $rows i32)
    (param $lw i32) (param $tau f32) (param $q i32) (param $w i32) (param $acc i32) (param $tot i32) (param $block i32)
    (param $scores i32)
    (call $attendRows (local.get $rec) (local.get $stride) (local.get $d) (local.get $s) (local.get $rows) (local.get $lw)
      (local.get $tau) (local.get $q) (local.get $w) (local.get $acc) (local.get $tot) (local.get $block) (local.get $scores)))

  ;; include codes.wat
  ;; include codes-int4.wat

  (func (export "recScores") (param $rec i32) (param $stride i32) (param $d i32) (param $rows i32) (param $lw i32)
    (param $tau f32) (param $q i32) (param $out i32) (result f32)
    (call $scores (local.get $rec) (local.get $stride) (local.get $d) (local.get $rows) (local.get $lw) (local.get $tau) (local.get $q) (local.get $out)))
  (func (export "recValues") (param $val i32) (param $stride i32) (param $s i32) (param $rows i32) (param $w i32) (param $acc i32)
    (call $values (local.get $val) (local.get $stride) (local.get $s) (local.get $rows) (local.get $w) (local.get $acc)))

  ;; Scores (f32, len ≤ block) into weights in place: w[i] = e^{s[i] − m}, 0 where s[i] = −∞; every
  ;; quad, the last one's entries past len included (the buffer holds block + 4). Per-slot
  ;; probabilities take these instead of one JavaScript exponential per row.
  (func $expScores (export "expScores") (param $w i32) (param $len i32) (param $mx f32)
    (local $i i32) (local $m v128) (local $x v128)
    (local.set $m (f32x4.splat (local.get $mx)))
    (block $done (loop $each
      (br_if $done (i32.ge_u (local.get $i) (local.get $len)))
      (local.set $x (v128.load (i32.add (local.get $w) (i32.shl (local.get $i) (i32.const 2)))))
      (v128.store (i32.add (local.get $w) (i32.shl (local.get $i) (i32.const 2)))
        (v128.andnot (call $exp (f32x4.sub (local.get $x) (local.get $m))) (f32x4.eq (local.get $x) (f32x4.splat (f32.const -inf)))))
      (local.set $i (i32.add (local.get $i) (i32.const 4)))
      (br $each))))

  ;; expScores against the scores' own maximum, which it returns.
  (func (export "blockWeights") (param $w i32) (param $len i32) (result f32)
    (local $i i32) (local $m v128) (local $mx f32)
    (local.set $m (f32x4.splat (f32.const -inf)))
    (block $done (loop $quads
      (br_if $done (i32.gt_u (i32.add (local.get $i) (i32.const 4)) (local.get $len)))
      (local.set $m (f32x4.max (local.get $m) (v128.load (i32.add (local.get $w) (i32.shl (local.get $i) (i32.const 2))))))
      (local.set $i (i32.add (local.get $i) (i32.const 4)))
      (br $quads)))
    (local.set $mx (f32.max (f32.max (f32x4.extract_lane 0 (local.get $m)) (f32x4.extract_lane 1 (local.get $m)))
      (f32.max (f32x4.extract_lane 2 (local.get $m)) (f32x4.extract_lane 3 (local.get $m)))))
    (block $tdone (loop $tail
      (br_if $tdone (i32.ge_u (local.get $i) (local.get $len)))
      (local.set $mx (f32.max (local.get $mx) (f32.load (i32.add (local.get $w) (i32.shl (local.get $i) (i32.const 2))))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $tail)))
    (call $expScores (local.get $w) (local.get $len) (local.get $mx))
    (local.get $mx))

  ;; The exponential on four lanes (exported for tests of its accuracy): out[i] = e^{in[i]}.
  (func (export "exp4") (param $in i32) (param $out i32)
    (v128.store (local.get $out) (call $exp (v128.load (local.get $in)))))
)
