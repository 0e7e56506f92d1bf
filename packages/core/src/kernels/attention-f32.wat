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
    (local $sc f32) (local $r f32) (local $z f32) (local $e f32)
    (local.set $kb (i32.shl (local.get $d) (i32.const 2)))
    (local.set $vb (i32.shl (local.get $s) (i32.const 2)))
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
          (br_if $each_row (local.get $left)))
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

  ;; ---------------------------------------------------------------------------------------------
  ;; Quantized records. A side (keys or values) of `bits` ∈ {8, 4, 2} has its codes in chunks of 16
  ;; bytes: bit field f of byte i holds the code of channel chunk·(128/bits) + 16·f + i, so one
  ;; shift and mask per field gives 16 consecutive channels. Token-wise scales are (lo, step) per
  ;; group of G channels (G a multiple of 16), as f16 (half = 1) or f32, after the codes.
  ;;
  ;; Unpacking: x = (chunk >> sh) & mask on 16-bit lanes (x64 has no 8-bit shift: bits entering a
  ;; byte from its neighbour land at or above bit 8 − sh ≥ bits and the mask drops them), then
  ;; zero extension. Key dot products are exact integer sums: the query in fixed point
  ;; Q = q·2^k (max |Q| in [2^29, 2^30), so q·2^k is exact in f32 and rounds by at most 2^−30 of the
  ;; largest element), split as Q = 65536·qh + ql with qh, ql in i16, and i32x4.dot_i16x8_s of the
  ;; codes with qh and with ql; a group of G ≤ 512 channels sums below 2^31. Values accumulate in
  ;; f32: acc += (w·step)·c per channel, Σ w·lo per group. 4-bit codes in groups of a multiple of
  ;; 32 channels (the default int4 layout) have their own kernels ($cdots2i4, $codeValuesI4), with
  ;; fewer instructions per code: the general ones are bound by instruction count, not memory.
  ;; ---------------------------------------------------------------------------------------------

  ;; The scales of four rows (at a0..a3; n entries each, f16 when half) into a transposed table:
  ;; entry e of row r at out + 16e + 4r, four entries of the four rows at a time (a 4×4 transpose
  ;; in registers; up to 3 entries past n are read and written). An f16 h decodes exactly as |h|
  ;; shifted into f32 position times 2^112 (normals, subnormals and 0), then the sign.
  (func $scales4 (param $a0 i32) (param $a1 i32) (param $a2 i32) (param $a3 i32) (param $n i32) (param $half i32) (param $out i32)
    (local $e i32) (local $x v128) (local $r0 v128) (local $r1 v128) (local $r2 v128) (local $r3 v128) (local $t0 v128) (local $t1 v128) (local $t2 v128) (local $t3 v128)
    (block $done
      (loop $each
        (br_if $done (i32.ge_u (local.get $e) (local.get $n)))
        (if (local.get $half)
          (then
            (local.set $x (v128.load64_lane 1 (local.get $a1) (v128.load64_zero (local.get $a0))))
            (local.set $r0 (i32x4.extend_low_i16x8_u (local.get $x)))
            (local.set $r1 (i32x4.extend_high_i16x8_u (local.get $x)))
            (local.set $r0 (v128.or
              (f32x4.mul (i32x4.shl (v128.and (local.get $r0) (i32x4.splat (i32.const 0x7fff))) (i32.const 13)) (f32x4.splat (f32.const 0x1p112)))
              (i32x4.shl (v128.and (local.get $r0) (i32x4.splat (i32.const 0x8000))) (i32.const 16))))
            (local.set $r1 (v128.or
              (f32x4.mul (i32x4.shl (v128.and (local.get $r1) (i32x4.splat (i32.const 0x7fff))) (i32.const 13)) (f32x4.splat (f32.const 0x1p112)))
              (i32x4.shl (v128.and (local.get $r1) (i32x4.splat (i32.const 0x8000))) (i32.const 16))))
            (local.set $x (v128.load64_lane 1 (local.get $a3) (v128.load64_zero (local.get $a2))))
            (local.set $r2 (i32x4.extend_low_i16x8_u (local.get $x)))
            (local.set $r3 (i32x4.extend_high_i16x8_u (local.get $x)))
            (local.set $r2 (v128.or
              (f32x4.mul (i32x4.shl (v128.and (local.get $r2) (i32x4.splat (i32.const 0x7fff))) (i32.const 13)) (f32x4.splat (f32.const 0x1p112)))
              (i32x4.shl (v128.and (local.get $r2) (i32x4.splat (i32.const 0x8000))) (i32.const 16))))
            (local.set $r3 (v128.or
              (f32x4.mul (i32x4.shl (v128.and (local.get $r3) (i32x4.splat (i32.const 0x7fff))) (i32.const 13)) (f32x4.splat (f32.const 0x1p112)))
              (i32x4.shl (v128.and (local.get $r3) (i32x4.splat (i32.const 0x8000))) (i32.const 16))))
            (local.set $a0 (i32.add (local.get $a0) (i32.const 8))) (local.set $a1 (i32.add (local.get $a1) (i32.const 8)))
            (local.set $a2 (i32.add (local.get $a2) (i32.const 8))) (local.set $a3 (i32.add (local.get $a3) (i32.const 8))))
          (else
            (local.set $r0 (v128.load (local.get $a0))) (local.set $r1 (v128.load (local.get $a1)))
            (local.set $r2 (v128.load (local.get $a2))) (local.set $r3 (v128.load (local.get $a3)))
            (local.set $a0 (i32.add (local.get $a0) (i32.const 16))) (local.set $a1 (i32.add (local.get $a1) (i32.const 16)))
            (local.set $a2 (i32.add (local.get $a2) (i32.const 16))) (local.set $a3 (i32.add (local.get $a3) (i32.const 16)))))
        (local.set $t0 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $r0) (local.get $r1)))
        (local.set $t1 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $r0) (local.get $r1)))
        (local.set $t2 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $r2) (local.get $r3)))
        (local.set $t3 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $r2) (local.get $r3)))
        (v128.store (local.get $out) (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t0) (local.get $t2)))
        (v128.store offset=16 (local.get $out) (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t0) (local.get $t2)))
        (v128.store offset=32 (local.get $out) (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t1) (local.get $t3)))
        (v128.store offset=48 (local.get $out) (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t1) (local.get $t3)))
        (local.set $out (i32.add (local.get $out) (i32.const 64)))
        (local.set $e (i32.add (local.get $e) (i32.const 4)))
        (br $each))))

  ;; The query in split fixed point: qh, ql (i16, n each, n a multiple of 8) with
  ;; q·2^k = 65536·qh + ql, 2^k chosen so max |q|·2^k ∈ [2^29, 2^30). Returns 2^−k.
  (func $fixq (param $q i32) (param $n i32) (param $qh i32) (param $ql i32) (result f32)
    (local $j i32) (local $m v128) (local $mx f32) (local $e i32) (local $sc v128) (local $a v128) (local $b v128) (local $ha v128) (local $hb v128)
    (local.set $m (v128.const i64x2 0 0))
    (block $d1 (loop $l1
      (br_if $d1 (i32.ge_u (local.get $j) (local.get $n)))
      (local.set $m (f32x4.max (local.get $m) (f32x4.abs (v128.load (i32.add (local.get $q) (i32.shl (local.get $j) (i32.const 2)))))))
      (local.set $j (i32.add (local.get $j) (i32.const 4)))
      (br $l1)))
    (local.set $mx (f32.max (f32.max (f32x4.extract_lane 0 (local.get $m)) (f32x4.extract_lane 1 (local.get $m)))
      (f32.max (f32x4.extract_lane 2 (local.get $m)) (f32x4.extract_lane 3 (local.get $m)))))
    (if (f32.eq (local.get $mx) (f32.const 0))
      (then (local.set $e (i32.const 0)))
      (else (local.set $e (i32.sub (i32.const 29)
        (i32.sub (i32.shr_u (i32.reinterpret_f32 (local.get $mx)) (i32.const 23)) (i32.const 127))))))
    ;; keep 2^e and 2^−e normal floats
    (if (i32.gt_s (local.get $e) (i32.const 126)) (then (local.set $e (i32.const 126))))
    (if (i32.lt_s (local.get $e) (i32.const -126)) (then (local.set $e (i32.const -126))))
    (local.set $sc (f32x4.splat (f32.reinterpret_i32 (i32.shl (i32.add (local.get $e) (i32.const 127)) (i32.const 23)))))
    (local.set $j (i32.const 0))
    (block $d2 (loop $l2
      (br_if $d2 (i32.ge_u (local.get $j) (local.get $n)))
      (local.set $a (i32x4.trunc_sat_f32x4_s (f32x4.nearest (f32x4.mul (v128.load (i32.add (local.get $q) (i32.shl (local.get $j) (i32.const 2)))) (local.get $sc)))))
      (local.set $b (i32x4.trunc_sat_f32x4_s (f32x4.nearest (f32x4.mul (v128.load offset=16 (i32.add (local.get $q) (i32.shl (local.get $j) (i32.const 2)))) (local.get $sc)))))
      (local.set $ha (i32x4.shr_s (i32x4.add (local.get $a) (i32x4.splat (i32.const 32768))) (i32.const 16)))
      (local.set $hb (i32x4.shr_s (i32x4.add (local.get $b) (i32x4.splat (i32.const 32768))) (i32.const 16)))
      (v128.store (i32.add (local.get $qh) (i32.shl (local.get $j) (i32.const 1))) (i16x8.narrow_i32x4_s (local.get $ha) (local.get $hb)))
      (v128.store (i32.add (local.get $ql) (i32.shl (local.get $j) (i32.const 1)))
        (i16x8.narrow_i32x4_s (i32x4.sub (local.get $a) (i32x4.shl (local.get $ha) (i32.const 16))) (i32x4.sub (local.get $b) (i32x4.shl (local.get $hb) (i32.const 16)))))
      (local.set $j (i32.add (local.get $j) (i32.const 8)))
      (br $l2)))
    (f32.reinterpret_i32 (i32.shl (i32.sub (i32.const 127) (local.get $e)) (i32.const 23))))

  ;; [Σa, Σb, Σc, Σd] of four i32x4.
  (func $ihsum4 (param $a v128) (param $b v128) (param $c v128) (param $d v128) (result v128)
    (local $ab v128) (local $cd v128)
    (local.set $ab (i32x4.add
      (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $a) (local.get $b))
      (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $a) (local.get $b))))
    (local.set $cd (i32x4.add
      (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $c) (local.get $d))
      (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $c) (local.get $d))))
    (i32x4.add
      (i8x16.shuffle 0 1 2 3 8 9 10 11 16 17 18 19 24 25 26 27 (local.get $ab) (local.get $cd))
      (i8x16.shuffle 4 5 6 7 12 13 14 15 20 21 22 23 28 29 30 31 (local.get $ab) (local.get $cd))))

  ;; Dot products of four code rows (at p0..p3, n code bytes) with the fixed-point query: per
  ;; scale group, (65536·Σc·qh + Σc·ql)·inv·step + lo·qsum[g]. sc: the four rows' transposed
  ;; scales (lo of group g at sc + 32g, step at sc + 32g + 16).
  (func $cdots4 (param $p0 i32) (param $p1 i32) (param $p2 i32) (param $p3 i32) (param $sc i32)
    (param $qh i32) (param $ql i32) (param $qsum i32) (param $n i32) (param $bits i32) (param $g16 i32) (param $inv f32) (result v128)
    (local $c i32) (local $f i32) (local $fields i32) (local $sh i32) (local $qa i32) (local $k i32) (local $g i32)
    (local $mask v128) (local $x v128) (local $lo v128) (local $hi v128)
    (local $v0 v128) (local $v1 v128) (local $v2 v128) (local $v3 v128)
    (local $h0 v128) (local $h1 v128) (local $h2 v128) (local $h3 v128)
    (local $l0 v128) (local $l1 v128) (local $l2 v128) (local $l3 v128)
    (local $qh0 v128) (local $qh1 v128) (local $ql0 v128) (local $ql1 v128) (local $tot v128) (local $dq v128)
    (local.set $fields (i32.div_u (i32.const 8) (local.get $bits)))
    (local.set $mask (i8x16.splat (i32.sub (i32.shl (i32.const 1) (local.get $bits)) (i32.const 1))))
    (block $chunks_done
      (loop $chunks
        (br_if $chunks_done (i32.ge_u (local.get $c) (local.get $n)))
        (local.set $v0 (v128.load (i32.add (local.get $p0) (local.get $c))))
        (local.set $v1 (v128.load (i32.add (local.get $p1) (local.get $c))))
        (local.set $v2 (v128.load (i32.add (local.get $p2) (local.get $c))))
        (local.set $v3 (v128.load (i32.add (local.get $p3) (local.get $c))))
        (local.set $f (i32.const 0))
        (block $fields_done
          (loop $each_field
            (br_if $fields_done (i32.ge_u (local.get $f) (local.get $fields)))
            (local.set $sh (i32.mul (local.get $f) (local.get $bits)))
            (local.set $qh0 (v128.load (i32.add (local.get $qh) (local.get $qa))))
            (local.set $qh1 (v128.load offset=16 (i32.add (local.get $qh) (local.get $qa))))
            (local.set $ql0 (v128.load (i32.add (local.get $ql) (local.get $qa))))
            (local.set $ql1 (v128.load offset=16 (i32.add (local.get $ql) (local.get $qa))))
            (local.set $x (v128.and (i16x8.shr_u (local.get $v0) (local.get $sh)) (local.get $mask)))
            (local.set $lo (i16x8.extend_low_i8x16_u (local.get $x)))
            (local.set $hi (i16x8.extend_high_i8x16_u (local.get $x)))
            (local.set $h0 (i32x4.add (local.get $h0) (i32x4.add (i32x4.dot_i16x8_s (local.get $lo) (local.get $qh0)) (i32x4.dot_i16x8_s (local.get $hi) (local.get $qh1)))))
            (local.set $l0 (i32x4.add (local.get $l0) (i32x4.add (i32x4.dot_i16x8_s (local.get $lo) (local.get $ql0)) (i32x4.dot_i16x8_s (local.get $hi) (local.get $ql1)))))
            (local.set $x (v128.and (i16x8.shr_u (local.get $v1) (local.get $sh)) (local.get $mask)))
            (local.set $lo (i16x8.extend_low_i8x16_u (local.get $x)))
            (local.set $hi (i16x8.extend_high_i8x16_u (local.get $x)))
            (local.set $h1 (i32x4.add (local.get $h1) (i32x4.add (i32x4.dot_i16x8_s (local.get $lo) (local.get $qh0)) (i32x4.dot_i16x8_s (local.get $hi) (local.get $qh1)))))
            (local.set $l1 (i32x4.add (local.get $l1) (i32x4.add (i32x4.dot_i16x8_s (local.get $lo) (local.get $ql0)) (i32x4.dot_i16x8_s (local.get $hi) (local.get $ql1)))))
            (local.set $x (v128.and (i16x8.shr_u (local.get $v2) (local.get $sh)) (local.get $mask)))
            (local.set $lo (i16x8.extend_low_i8x16_u (local.get $x)))
            (local.set $hi (i16x8.extend_high_i8x16_u (local.get $x)))
            (local.set $h2 (i32x4.add (local.get $h2) (i32x4.add (i32x4.dot_i16x8_s (local.get $lo) (local.get $qh0)) (i32x4.dot_i16x8_s (local.get $hi) (local.get $qh1)))))
            (local.set $l2 (i32x4.add (local.get $l2) (i32x4.add (i32x4.dot_i16x8_s (local.get $lo) (local.get $ql0)) (i32x4.dot_i16x8_s (local.get $hi) (local.get $ql1)))))
            (local.set $x (v128.and (i16x8.shr_u (local.get $v3) (local.get $sh)) (local.get $mask)))
            (local.set $lo (i16x8.extend_low_i8x16_u (local.get $x)))
            (local.set $hi (i16x8.extend_high_i8x16_u (local.get $x)))
            (local.set $h3 (i32x4.add (local.get $h3) (i32x4.add (i32x4.dot_i16x8_s (local.get $lo) (local.get $qh0)) (i32x4.dot_i16x8_s (local.get $hi) (local.get $qh1)))))
            (local.set $l3 (i32x4.add (local.get $l3) (i32x4.add (i32x4.dot_i16x8_s (local.get $lo) (local.get $ql0)) (i32x4.dot_i16x8_s (local.get $hi) (local.get $ql1)))))
            (local.set $qa (i32.add (local.get $qa) (i32.const 32)))
            (local.set $f (i32.add (local.get $f) (i32.const 1)))
            (local.set $k (i32.add (local.get $k) (i32.const 1)))
            ;; End of a scale group: the four rows' dot products in real units, times step, plus lo·qsum.
            (if (i32.eq (local.get $k) (local.get $g16))
              (then
                (local.set $dq (f32x4.mul (f32x4.splat (local.get $inv))
                  (f32x4.add
                    (f32x4.mul (f32x4.convert_i32x4_s (call $ihsum4 (local.get $h0) (local.get $h1) (local.get $h2) (local.get $h3))) (f32x4.splat (f32.const 65536)))
                    (f32x4.convert_i32x4_s (call $ihsum4 (local.get $l0) (local.get $l1) (local.get $l2) (local.get $l3))))))
                (local.set $tot (f32x4.add (local.get $tot)
                  (f32x4.add
                    (f32x4.mul (local.get $dq) (v128.load offset=16 (i32.add (local.get $sc) (i32.shl (local.get $g) (i32.const 5)))))
                    (f32x4.mul (v128.load32_splat (i32.add (local.get $qsum) (i32.shl (local.get $g) (i32.const 2))))
                      (v128.load (i32.add (local.get $sc) (i32.shl (local.get $g) (i32.const 5))))))))
                (local.set $h0 (v128.const i64x2 0 0)) (local.set $h1 (v128.const i64x2 0 0))
                (local.set $h2 (v128.const i64x2 0 0)) (local.set $h3 (v128.const i64x2 0 0))
                (local.set $l0 (v128.const i64x2 0 0)) (local.set $l1 (v128.const i64x2 0 0))
                (local.set $l2 (v128.const i64x2 0 0)) (local.set $l3 (v128.const i64x2 0 0))
                (local.set $k (i32.const 0))
                (local.set $g (i32.add (local.get $g) (i32.const 1)))))
            (br $each_field)))
        (local.set $c (i32.add (local.get $c) (i32.const 16)))
        (br $chunks)))
    (local.get $tot))

  ;; acc[ch] += Σ_r w_r·step_{r,g}·c_{r,ch} for four code rows; zacc[g] += Σ_r w_r·lo_{r,g}.
  ;; sc: the rows' transposed scales.
  (func $cvalues4 (param $p0 i32) (param $p1 i32) (param $p2 i32) (param $p3 i32) (param $sc i32)
    (param $w v128) (param $acc i32) (param $zacc i32) (param $n i32) (param $bits i32) (param $g16 i32)
    (local $c i32) (local $f i32) (local $fields i32) (local $sh i32) (local $aa i32) (local $k i32) (local $g i32)
    (local $mask v128) (local $x v128) (local $lo v128) (local $hi v128) (local $st v128) (local $z v128)
    (local $v0 v128) (local $v1 v128) (local $v2 v128) (local $v3 v128)
    (local $s0 v128) (local $s1 v128) (local $s2 v128) (local $s3 v128)
    (local $c0 v128) (local $c1 v128) (local $c2 v128) (local $c3 v128)
    (local.set $fields (i32.div_u (i32.const 8) (local.get $bits)))
    (local.set $mask (i8x16.splat (i32.sub (i32.shl (i32.const 1) (local.get $bits)) (i32.const 1))))
    (local.set $aa (local.get $acc))
    (local.set $k (local.get $g16))
    (block $chunks_done
      (loop $chunks
        (br_if $chunks_done (i32.ge_u (local.get $c) (local.get $n)))
        (local.set $v0 (v128.load (i32.add (local.get $p0) (local.get $c))))
        (local.set $v1 (v128.load (i32.add (local.get $p1) (local.get $c))))
        (local.set $v2 (v128.load (i32.add (local.get $p2) (local.get $c))))
        (local.set $v3 (v128.load (i32.add (local.get $p3) (local.get $c))))
        (local.set $f (i32.const 0))
        (block $fields_done
          (loop $each_field
            (br_if $fields_done (i32.ge_u (local.get $f) (local.get $fields)))
            ;; Start of a scale group: the rows' coefficients w·step, and their zero points.
            (if (i32.eq (local.get $k) (local.get $g16))
              (then
                (local.set $st (f32x4.mul (local.get $w) (v128.load offset=16 (i32.add (local.get $sc) (i32.shl (local.get $g) (i32.const 5))))))
                (local.set $s0 (i8x16.shuffle 0 1 2 3 0 1 2 3 0 1 2 3 0 1 2 3 (local.get $st) (local.get $st)))
                (local.set $s1 (i8x16.shuffle 4 5 6 7 4 5 6 7 4 5 6 7 4 5 6 7 (local.get $st) (local.get $st)))
                (local.set $s2 (i8x16.shuffle 8 9 10 11 8 9 10 11 8 9 10 11 8 9 10 11 (local.get $st) (local.get $st)))
                (local.set $s3 (i8x16.shuffle 12 13 14 15 12 13 14 15 12 13 14 15 12 13 14 15 (local.get $st) (local.get $st)))
                (local.set $z (f32x4.mul (local.get $w) (v128.load (i32.add (local.get $sc) (i32.shl (local.get $g) (i32.const 5))))))
                (local.set $z (f32x4.add (local.get $z) (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $z) (local.get $z))))
                (f32.store (i32.add (local.get $zacc) (i32.shl (local.get $g) (i32.const 2)))
                  (f32.add (f32.load (i32.add (local.get $zacc) (i32.shl (local.get $g) (i32.const 2))))
                    (f32.add (f32x4.extract_lane 0 (local.get $z)) (f32x4.extract_lane 1 (local.get $z)))))
                (local.set $g (i32.add (local.get $g) (i32.const 1)))
                (local.set $k (i32.const 0))))
            (local.set $sh (i32.mul (local.get $f) (local.get $bits)))
            (local.set $c0 (v128.load (local.get $aa)))
            (local.set $c1 (v128.load offset=16 (local.get $aa)))
            (local.set $c2 (v128.load offset=32 (local.get $aa)))
            (local.set $c3 (v128.load offset=48 (local.get $aa)))
            (local.set $x (v128.and (i16x8.shr_u (local.get $v0) (local.get $sh)) (local.get $mask)))
            (local.set $lo (i16x8.extend_low_i8x16_u (local.get $x)))
            (local.set $hi (i16x8.extend_high_i8x16_u (local.get $x)))
            (local.set $c0 (MADD (local.get $c0) (f32x4.convert_i32x4_s (i32x4.extend_low_i16x8_u (local.get $lo))) (local.get $s0)))
            (local.set $c1 (MADD (local.get $c1) (f32x4.convert_i32x4_s (i32x4.extend_high_i16x8_u (local.get $lo))) (local.get $s0)))
            (local.set $c2 (MADD (local.get $c2) (f32x4.convert_i32x4_s (i32x4.extend_low_i16x8_u (local.get $hi))) (local.get $s0)))
            (local.set $c3 (MADD (local.get $c3) (f32x4.convert_i32x4_s (i32x4.extend_high_i16x8_u (local.get $hi))) (local.get $s0)))
            (local.set $x (v128.and (i16x8.shr_u (local.get $v1) (local.get $sh)) (local.get $mask)))
            (local.set $lo (i16x8.extend_low_i8x16_u (local.get $x)))
            (local.set $hi (i16x8.extend_high_i8x16_u (local.get $x)))
            (local.set $c0 (MADD (local.get $c0) (f32x4.convert_i32x4_s (i32x4.extend_low_i16x8_u (local.get $lo))) (local.get $s1)))
            (local.set $c1 (MADD (local.get $c1) (f32x4.convert_i32x4_s (i32x4.extend_high_i16x8_u (local.get $lo))) (local.get $s1)))
            (local.set $c2 (MADD (local.get $c2) (f32x4.convert_i32x4_s (i32x4.extend_low_i16x8_u (local.get $hi))) (local.get $s1)))
            (local.set $c3 (MADD (local.get $c3) (f32x4.convert_i32x4_s (i32x4.extend_high_i16x8_u (local.get $hi))) (local.get $s1)))
            (local.set $x (v128.and (i16x8.shr_u (local.get $v2) (local.get $sh)) (local.get $mask)))
            (local.set $lo (i16x8.extend_low_i8x16_u (local.get $x)))
            (local.set $hi (i16x8.extend_high_i8x16_u (local.get $x)))
            (local.set $c0 (MADD (local.get $c0) (f32x4.convert_i32x4_s (i32x4.extend_low_i16x8_u (local.get $lo))) (local.get $s2)))
            (local.set $c1 (MADD (local.get $c1) (f32x4.convert_i32x4_s (i32x4.extend_high_i16x8_u (local.get $lo))) (local.get $s2)))
            (local.set $c2 (MADD (local.get $c2) (f32x4.convert_i32x4_s (i32x4.extend_low_i16x8_u (local.get $hi))) (local.get $s2)))
            (local.set $c3 (MADD (local.get $c3) (f32x4.convert_i32x4_s (i32x4.extend_high_i16x8_u (local.get $hi))) (local.get $s2)))
            (local.set $x (v128.and (i16x8.shr_u (local.get $v3) (local.get $sh)) (local.get $mask)))
            (local.set $lo (i16x8.extend_low_i8x16_u (local.get $x)))
            (local.set $hi (i16x8.extend_high_i8x16_u (local.get $x)))
            (local.set $c0 (MADD (local.get $c0) (f32x4.convert_i32x4_s (i32x4.extend_low_i16x8_u (local.get $lo))) (local.get $s3)))
            (local.set $c1 (MADD (local.get $c1) (f32x4.convert_i32x4_s (i32x4.extend_high_i16x8_u (local.get $lo))) (local.get $s3)))
            (local.set $c2 (MADD (local.get $c2) (f32x4.convert_i32x4_s (i32x4.extend_low_i16x8_u (local.get $hi))) (local.get $s3)))
            (local.set $c3 (MADD (local.get $c3) (f32x4.convert_i32x4_s (i32x4.extend_high_i16x8_u (local.get $hi))) (local.get $s3)))
            (v128.store (local.get $aa) (local.get $c0))
            (v128.store offset=16 (local.get $aa) (local.get $c1))
            (v128.store offset=32 (local.get $aa) (local.get $c2))
            (v128.store offset=48 (local.get $aa) (local.get $c3))
            (local.set $aa (i32.add (local.get $aa) (i32.const 64)))
            (local.set $f (i32.add (local.get $f) (i32.const 1)))
            (local.set $k (i32.add (local.get $k) (i32.const 1)))
            (br $each_field)))
        (local.set $c (i32.add (local.get $c) (i32.const 16)))
        (br $chunks))))

  ;; 4-bit codes whose scale groups end on 16-byte chunks (G a multiple of 32), two rows at a
  ;; time. A chunk's 16-bit lanes hold four codes each (bits 0–3, 8–11: channels 2j, 2j + 1 of the
  ;; low nibbles; bits 4–7, 12–15: the same of the high nibbles), taken out by two shifts apiece
  ;; against a query reordered to match ($evenOdd). Few enough live vectors that V8 keeps them in
  ;; registers: four rows at once spill, V8 inlines no calls, and it does not reuse a load.
  ;; Returns the two rows' dot products with the query in lanes 0 and 1: per scale group,
  ;; (65536·Σc·qh + Σc·ql)·2^−k·step + lo·qsum, the integer sums exact and their lanes summed in
  ;; f32. sc: the rows' column of the transposed scale table (row 0 of the pair in lane 0).
  (func $cdots2i4 (param $p0 i32) (param $p1 i32) (param $sc i32) (param $qh i32) (param $ql i32) (param $qsum i32)
    (param $n i32) (param $g16 i32) (param $inv f32) (result v128)
    (local $c i32) (local $c4 i32) (local $k i32) (local $g i32)
    (local $x v128) (local $v0 v128) (local $v1 v128) (local $qh0 v128) (local $ql0 v128)
    (local $h0 v128) (local $h1 v128) (local $l0 v128) (local $l1 v128) (local $t0 v128) (local $t1 v128) (local $z v128)
    (block $chunks_done
      (loop $chunks
        (br_if $chunks_done (i32.ge_u (local.get $c) (local.get $n)))
        (local.set $v0 (v128.load (i32.add (local.get $p0) (local.get $c))))
        (local.set $v1 (v128.load (i32.add (local.get $p1) (local.get $c))))
        (local.set $qh0 (v128.load (i32.add (local.get $qh) (local.get $c4))))
        (local.set $ql0 (v128.load (i32.add (local.get $ql) (local.get $c4))))
        (local.set $x (i16x8.shr_u (i16x8.shl (local.get $v0) (i32.const 12)) (i32.const 12)))
        (local.set $h0 (i32x4.add (local.get $h0) (i32x4.dot_i16x8_s (local.get $x) (local.get $qh0))))
        (local.set $l0 (i32x4.add (local.get $l0) (i32x4.dot_i16x8_s (local.get $x) (local.get $ql0))))
        (local.set $x (i16x8.shr_u (i16x8.shl (local.get $v1) (i32.const 12)) (i32.const 12)))
        (local.set $h1 (i32x4.add (local.get $h1) (i32x4.dot_i16x8_s (local.get $x) (local.get $qh0))))
        (local.set $l1 (i32x4.add (local.get $l1) (i32x4.dot_i16x8_s (local.get $x) (local.get $ql0))))
        (local.set $qh0 (v128.load offset=16 (i32.add (local.get $qh) (local.get $c4))))
        (local.set $ql0 (v128.load offset=16 (i32.add (local.get $ql) (local.get $c4))))
        (local.set $x (i16x8.shr_u (i16x8.shl (local.get $v0) (i32.const 4)) (i32.const 12)))
        (local.set $h0 (i32x4.add (local.get $h0) (i32x4.dot_i16x8_s (local.get $x) (local.get $qh0))))
        (local.set $l0 (i32x4.add (local.get $l0) (i32x4.dot_i16x8_s (local.get $x) (local.get $ql0))))
        (local.set $x (i16x8.shr_u (i16x8.shl (local.get $v1) (i32.const 4)) (i32.const 12)))
        (local.set $h1 (i32x4.add (local.get $h1) (i32x4.dot_i16x8_s (local.get $x) (local.get $qh0))))
        (local.set $l1 (i32x4.add (local.get $l1) (i32x4.dot_i16x8_s (local.get $x) (local.get $ql0))))
        (local.set $qh0 (v128.load offset=32 (i32.add (local.get $qh) (local.get $c4))))
        (local.set $ql0 (v128.load offset=32 (i32.add (local.get $ql) (local.get $c4))))
        (local.set $x (i16x8.shr_u (i16x8.shl (local.get $v0) (i32.const 8)) (i32.const 12)))
        (local.set $h0 (i32x4.add (local.get $h0) (i32x4.dot_i16x8_s (local.get $x) (local.get $qh0))))
        (local.set $l0 (i32x4.add (local.get $l0) (i32x4.dot_i16x8_s (local.get $x) (local.get $ql0))))
        (local.set $x (i16x8.shr_u (i16x8.shl (local.get $v1) (i32.const 8)) (i32.const 12)))
        (local.set $h1 (i32x4.add (local.get $h1) (i32x4.dot_i16x8_s (local.get $x) (local.get $qh0))))
        (local.set $l1 (i32x4.add (local.get $l1) (i32x4.dot_i16x8_s (local.get $x) (local.get $ql0))))
        (local.set $qh0 (v128.load offset=48 (i32.add (local.get $qh) (local.get $c4))))
        (local.set $ql0 (v128.load offset=48 (i32.add (local.get $ql) (local.get $c4))))
        (local.set $x (i16x8.shr_u (local.get $v0) (i32.const 12)))
        (local.set $h0 (i32x4.add (local.get $h0) (i32x4.dot_i16x8_s (local.get $x) (local.get $qh0))))
        (local.set $l0 (i32x4.add (local.get $l0) (i32x4.dot_i16x8_s (local.get $x) (local.get $ql0))))
        (local.set $x (i16x8.shr_u (local.get $v1) (i32.const 12)))
        (local.set $h1 (i32x4.add (local.get $h1) (i32x4.dot_i16x8_s (local.get $x) (local.get $qh0))))
        (local.set $l1 (i32x4.add (local.get $l1) (i32x4.dot_i16x8_s (local.get $x) (local.get $ql0))))
        (local.set $c (i32.add (local.get $c) (i32.const 16)))
        (local.set $c4 (i32.add (local.get $c4) (i32.const 64)))
        (local.set $k (i32.add (local.get $k) (i32.const 2)))
        (if (i32.eq (local.get $k) (local.get $g16))
          (then
            (local.set $t0 (f32x4.add (local.get $t0) (f32x4.mul
              (f32x4.add (f32x4.mul (f32x4.convert_i32x4_s (local.get $h0)) (f32x4.splat (f32.const 65536))) (f32x4.convert_i32x4_s (local.get $l0)))
              (v128.load32_splat offset=16 (i32.add (local.get $sc) (i32.shl (local.get $g) (i32.const 5)))))))
            (local.set $t1 (f32x4.add (local.get $t1) (f32x4.mul
              (f32x4.add (f32x4.mul (f32x4.convert_i32x4_s (local.get $h1)) (f32x4.splat (f32.const 65536))) (f32x4.convert_i32x4_s (local.get $l1)))
              (v128.load32_splat offset=20 (i32.add (local.get $sc) (i32.shl (local.get $g) (i32.const 5)))))))
            (local.set $z (f32x4.add (local.get $z) (f32x4.mul
              (v128.load64_zero (i32.add (local.get $sc) (i32.shl (local.get $g) (i32.const 5))))
              (v128.load32_splat (i32.add (local.get $qsum) (i32.shl (local.get $g) (i32.const 2)))))))
            (local.set $h0 (v128.const i64x2 0 0)) (local.set $h1 (v128.const i64x2 0 0))
            (local.set $l0 (v128.const i64x2 0 0)) (local.set $l1 (v128.const i64x2 0 0))
            (local.set $k (i32.const 0))
            (local.set $g (i32.add (local.get $g) (i32.const 1)))))
        (br $chunks)))
    ;; [Σt0, Σt1]·2^−k + [lo·qsum of row 0, of row 1]
    (local.set $x (f32x4.add
      (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t0) (local.get $t1))
      (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t0) (local.get $t1))))
    (local.set $x (f32x4.add (local.get $x) (i8x16.shuffle 4 5 6 7 0 1 2 3 12 13 14 15 8 9 10 11 (local.get $x) (local.get $x))))
    (f32x4.add (local.get $z)
      (f32x4.mul (i8x16.shuffle 0 1 2 3 8 9 10 11 0 1 2 3 8 9 10 11 (local.get $x) (local.get $x)) (f32x4.splat (local.get $inv)))))

  ;; Values of four 4-bit code rows (G a multiple of 32) in exact integer sums: H[ch] += Σ_r ch_(r,g)·c_(r,ch)
  ;; and L[ch] += Σ_r cl_(r,g)·c_(r,ch) (i32, s each), where w_r·step_(r,g)·2^e = 65536·ch + cl is the
  ;; row's coefficient in the block's fixed point (i16 halves, so i32x4.dot_i16x8_s sums two rows
  ;; per lane: their codes interleaved, channel by channel). sc: the quad's transposed table, with
  ;; the coefficients w·step in place of the steps; se = 2^e.
  (func $cvalues4i4 (param $p0 i32) (param $p1 i32) (param $p2 i32) (param $p3 i32) (param $sc i32)
    (param $ah i32) (param $al i32) (param $n i32) (param $g16 i32) (param $se f32)
    (local $c i32) (local $k i32) (local $g i32)
    (local $hab v128) (local $hcd v128) (local $lab v128) (local $lcd v128) (local $q v128) (local $qh v128)
    (local $xa v128) (local $xb v128) (local $xc v128) (local $xd v128) (local $yab v128) (local $ycd v128) (local $z v128) (local $t v128)
    (block $chunks_done
      (loop $chunks
        (br_if $chunks_done (i32.ge_u (local.get $c) (local.get $n)))
        ;; Start of a scale group: the rows' coefficients in fixed point, as (row 0, row 1) and (row 2, row 3) pairs.
        (if (i32.eqz (local.get $k))
          (then
            (local.set $q (i32x4.trunc_sat_f32x4_s (f32x4.nearest (f32x4.mul
              (v128.load offset=16 (i32.add (local.get $sc) (i32.shl (local.get $g) (i32.const 5)))) (f32x4.splat (local.get $se))))))
            (local.set $qh (i32x4.shr_s (i32x4.add (local.get $q) (i32x4.splat (i32.const 32768))) (i32.const 16)))
            (local.set $q (i32x4.sub (local.get $q) (i32x4.shl (local.get $qh) (i32.const 16))))
            (local.set $hab (i8x16.shuffle 0 1 4 5 0 1 4 5 0 1 4 5 0 1 4 5 (local.get $qh) (local.get $qh)))
            (local.set $hcd (i8x16.shuffle 8 9 12 13 8 9 12 13 8 9 12 13 8 9 12 13 (local.get $qh) (local.get $qh)))
            (local.set $lab (i8x16.shuffle 0 1 4 5 0 1 4 5 0 1 4 5 0 1 4 5 (local.get $q) (local.get $q)))
            (local.set $lcd (i8x16.shuffle 8 9 12 13 8 9 12 13 8 9 12 13 8 9 12 13 (local.get $q) (local.get $q)))
            (local.set $g (i32.add (local.get $g) (i32.const 1)))))
        (local.set $xa (v128.and (v128.load (i32.add (local.get $p0) (local.get $c))) (v128.const i8x16 15 15 15 15 15 15 15 15 15 15 15 15 15 15 15 15)))
        (local.set $xb (v128.and (v128.load (i32.add (local.get $p1) (local.get $c))) (v128.const i8x16 15 15 15 15 15 15 15 15 15 15 15 15 15 15 15 15)))
        (local.set $xc (v128.and (v128.load (i32.add (local.get $p2) (local.get $c))) (v128.const i8x16 15 15 15 15 15 15 15 15 15 15 15 15 15 15 15 15)))
        (local.set $xd (v128.and (v128.load (i32.add (local.get $p3) (local.get $c))) (v128.const i8x16 15 15 15 15 15 15 15 15 15 15 15 15 15 15 15 15)))
        (local.set $yab (i8x16.shuffle 0 16 1 17 2 18 3 19 4 20 5 21 6 22 7 23 (local.get $xa) (local.get $xb)))
        (local.set $ycd (i8x16.shuffle 0 16 1 17 2 18 3 19 4 20 5 21 6 22 7 23 (local.get $xc) (local.get $xd)))
        (local.set $z (i16x8.extend_low_i8x16_u (local.get $yab)))
        (local.set $t (i16x8.extend_low_i8x16_u (local.get $ycd)))
        (v128.store offset=0 (local.get $ah) (i32x4.add (v128.load (local.get $ah))
          (i32x4.add (i32x4.dot_i16x8_s (local.get $z) (local.get $hab)) (i32x4.dot_i16x8_s (local.get $t) (local.get $hcd)))))
        (v128.store offset=0 (local.get $al) (i32x4.add (v128.load (local.get $al))
          (i32x4.add (i32x4.dot_i16x8_s (local.get $z) (local.get $lab)) (i32x4.dot_i16x8_s (local.get $t) (local.get $lcd)))))
        (local.set $z (i16x8.extend_high_i8x16_u (local.get $yab)))
        (local.set $t (i16x8.extend_high_i8x16_u (local.get $ycd)))
        (v128.store offset=16 (local.get $ah) (i32x4.add (v128.load offset=16 (local.get $ah))
          (i32x4.add (i32x4.dot_i16x8_s (local.get $z) (local.get $hab)) (i32x4.dot_i16x8_s (local.get $t) (local.get $hcd)))))
        (v128.store offset=16 (local.get $al) (i32x4.add (v128.load offset=16 (local.get $al))
          (i32x4.add (i32x4.dot_i16x8_s (local.get $z) (local.get $lab)) (i32x4.dot_i16x8_s (local.get $t) (local.get $lcd)))))
        (local.set $yab (i8x16.shuffle 8 24 9 25 10 26 11 27 12 28 13 29 14 30 15 31 (local.get $xa) (local.get $xb)))
        (local.set $ycd (i8x16.shuffle 8 24 9 25 10 26 11 27 12 28 13 29 14 30 15 31 (local.get $xc) (local.get $xd)))
        (local.set $z (i16x8.extend_low_i8x16_u (local.get $yab)))
        (local.set $t (i16x8.extend_low_i8x16_u (local.get $ycd)))
        (v128.store offset=32 (local.get $ah) (i32x4.add (v128.load offset=32 (local.get $ah))
          (i32x4.add (i32x4.dot_i16x8_s (local.get $z) (local.get $hab)) (i32x4.dot_i16x8_s (local.get $t) (local.get $hcd)))))
        (v128.store offset=32 (local.get $al) (i32x4.add (v128.load offset=32 (local.get $al))
          (i32x4.add (i32x4.dot_i16x8_s (local.get $z) (local.get $lab)) (i32x4.dot_i16x8_s (local.get $t) (local.get $lcd)))))
        (local.set $z (i16x8.extend_high_i8x16_u (local.get $yab)))
        (local.set $t (i16x8.extend_high_i8x16_u (local.get $ycd)))
        (v128.store offset=48 (local.get $ah) (i32x4.add (v128.load offset=48 (local.get $ah))
          (i32x4.add (i32x4.dot_i16x8_s (local.get $z) (local.get $hab)) (i32x4.dot_i16x8_s (local.get $t) (local.get $hcd)))))
        (v128.store offset=48 (local.get $al) (i32x4.add (v128.load offset=48 (local.get $al))
          (i32x4.add (i32x4.dot_i16x8_s (local.get $z) (local.get $lab)) (i32x4.dot_i16x8_s (local.get $t) (local.get $lcd)))))
        (local.set $xa (v128.and (i16x8.shr_u (v128.load (i32.add (local.get $p0) (local.get $c))) (i32.const 4)) (v128.const i8x16 15 15 15 15 15 15 15 15 15 15 15 15 15 15 15 15)))
        (local.set $xb (v128.and (i16x8.shr_u (v128.load (i32.add (local.get $p1) (local.get $c))) (i32.const 4)) (v128.const i8x16 15 15 15 15 15 15 15 15 15 15 15 15 15 15 15 15)))
        (local.set $xc (v128.and (i16x8.shr_u (v128.load (i32.add (local.get $p2) (local.get $c))) (i32.const 4)) (v128.const i8x16 15 15 15 15 15 15 15 15 15 15 15 15 15 15 15 15)))
        (local.set $xd (v128.and (i16x8.shr_u (v128.load (i32.add (local.get $p3) (local.get $c))) (i32.const 4)) (v128.const i8x16 15 15 15 15 15 15 15 15 15 15 15 15 15 15 15 15)))
        (local.set $yab (i8x16.shuffle 0 16 1 17 2 18 3 19 4 20 5 21 6 22 7 23 (local.get $xa) (local.get $xb)))
        (local.set $ycd (i8x16.shuffle 0 16 1 17 2 18 3 19 4 20 5 21 6 22 7 23 (local.get $xc) (local.get $xd)))
        (local.set $z (i16x8.extend_low_i8x16_u (local.get $yab)))
        (local.set $t (i16x8.extend_low_i8x16_u (local.get $ycd)))
        (v128.store offset=64 (local.get $ah) (i32x4.add (v128.load offset=64 (local.get $ah))
          (i32x4.add (i32x4.dot_i16x8_s (local.get $z) (local.get $hab)) (i32x4.dot_i16x8_s (local.get $t) (local.get $hcd)))))
        (v128.store offset=64 (local.get $al) (i32x4.add (v128.load offset=64 (local.get $al))
          (i32x4.add (i32x4.dot_i16x8_s (local.get $z) (local.get $lab)) (i32x4.dot_i16x8_s (local.get $t) (local.get $lcd)))))
        (local.set $z (i16x8.extend_high_i8x16_u (local.get $yab)))
        (local.set $t (i16x8.extend_high_i8x16_u (local.get $ycd)))
        (v128.store offset=80 (local.get $ah) (i32x4.add (v128.load offset=80 (local.get $ah))
          (i32x4.add (i32x4.dot_i16x8_s (local.get $z) (local.get $hab)) (i32x4.dot_i16x8_s (local.get $t) (local.get $hcd)))))
        (v128.store offset=80 (local.get $al) (i32x4.add (v128.load offset=80 (local.get $al))
          (i32x4.add (i32x4.dot_i16x8_s (local.get $z) (local.get $lab)) (i32x4.dot_i16x8_s (local.get $t) (local.get $lcd)))))
        (local.set $yab (i8x16.shuffle 8 24 9 25 10 26 11 27 12 28 13 29 14 30 15 31 (local.get $xa) (local.get $xb)))
        (local.set $ycd (i8x16.shuffle 8 24 9 25 10 26 11 27 12 28 13 29 14 30 15 31 (local.get $xc) (local.get $xd)))
        (local.set $z (i16x8.extend_low_i8x16_u (local.get $yab)))
        (local.set $t (i16x8.extend_low_i8x16_u (local.get $ycd)))
        (v128.store offset=96 (local.get $ah) (i32x4.add (v128.load offset=96 (local.get $ah))
          (i32x4.add (i32x4.dot_i16x8_s (local.get $z) (local.get $hab)) (i32x4.dot_i16x8_s (local.get $t) (local.get $hcd)))))
        (v128.store offset=96 (local.get $al) (i32x4.add (v128.load offset=96 (local.get $al))
          (i32x4.add (i32x4.dot_i16x8_s (local.get $z) (local.get $lab)) (i32x4.dot_i16x8_s (local.get $t) (local.get $lcd)))))
        (local.set $z (i16x8.extend_high_i8x16_u (local.get $yab)))
        (local.set $t (i16x8.extend_high_i8x16_u (local.get $ycd)))
        (v128.store offset=112 (local.get $ah) (i32x4.add (v128.load offset=112 (local.get $ah))
          (i32x4.add (i32x4.dot_i16x8_s (local.get $z) (local.get $hab)) (i32x4.dot_i16x8_s (local.get $t) (local.get $hcd)))))
        (v128.store offset=112 (local.get $al) (i32x4.add (v128.load offset=112 (local.get $al))
          (i32x4.add (i32x4.dot_i16x8_s (local.get $z) (local.get $lab)) (i32x4.dot_i16x8_s (local.get $t) (local.get $lcd)))))
        (local.set $ah (i32.add (local.get $ah) (i32.const 128)))
        (local.set $al (i32.add (local.get $al) (i32.const 128)))
        (local.set $c (i32.add (local.get $c) (i32.const 16)))
        (local.set $k (i32.add (local.get $k) (i32.const 2)))
        (if (i32.eq (local.get $k) (local.get $g16)) (then (local.set $k (i32.const 0))))
        (br $chunks))))

  ;; The descriptor of a quantized store (i32 fields by byte offset): 0 stride, 4 d, 8 s, 12 key
  ;; bits (32: f32 keys), 16 value bits (32: f32 values), 20 key code offset, 24 value code offset,
  ;; 28 key scale offset, 32 value scale offset, 36 lw offset (−1: none), 40 key groups (0: the
  ;; caller filled the key table with lo = 0, step = 1 and folded the query into the group's
  ;; steps), 44 value groups, 48 half scales, 52 key fields per scale group, 56 block rows, 60 q
  ;; (f32 d), 64 qsum (f32 per key group), 68 w (f32 block + 4), 72 acc (f32 s), 76 zacc (f32 per
  ;; value group), 80 value scale table, 84 key bias (f32, added to every dot), 88 value fields per
  ;; scale group, 92 key scale table, 96 qh, 100 ql (i16 d), 104 2^−k of the fixed-point query
  ;; (f32, written by $prepare), 108 H, 112 L (i32 s each: $codeValuesI4's integer sums; the value
  ;; scale table then holds one quad's table per quad of a block), 116 row addresses (i32, block + 4).

  ;; The fixed-point query of the descriptor's q (for integer keys).
  (func $prepare (param $desc i32)
    (if (i32.ne (i32.load offset=12 (local.get $desc)) (i32.const 32))
      (then (f32.store offset=104 (local.get $desc)
        (call $fixq (i32.load offset=60 (local.get $desc)) (i32.load offset=4 (local.get $desc))
          (i32.load offset=96 (local.get $desc)) (i32.load offset=100 (local.get $desc))))))
    (if (i32.and (i32.eq (i32.load offset=12 (local.get $desc)) (i32.const 4)) (i32.eqz (i32.and (i32.load offset=52 (local.get $desc)) (i32.const 1))))
      (then
        (call $evenOdd (i32.load offset=96 (local.get $desc)) (i32.load offset=4 (local.get $desc)))
        (call $evenOdd (i32.load offset=100 (local.get $desc)) (i32.load offset=4 (local.get $desc))))))

  ;; Reorders n i16 (n a multiple of 32) in place, per 32: the even ones of the first 16, their odd
  ;; ones, the even ones of the next 16, their odd ones — the order in which $cdots2i4 takes the
  ;; 4-bit codes of a 16-byte chunk out of its 16-bit lanes.
  (func $evenOdd (param $at i32) (param $n i32)
    (local $e i32) (local $v0 v128) (local $v1 v128) (local $v2 v128) (local $v3 v128)
    (block $done
      (loop $each
        (br_if $done (i32.ge_u (local.get $e) (local.get $n)))
        (local.set $v0 (v128.load (local.get $at)))
        (local.set $v1 (v128.load offset=16 (local.get $at)))
        (local.set $v2 (v128.load offset=32 (local.get $at)))
        (local.set $v3 (v128.load offset=48 (local.get $at)))
        (v128.store (local.get $at) (i8x16.shuffle 0 1 4 5 8 9 12 13 16 17 20 21 24 25 28 29 (local.get $v0) (local.get $v1)))
        (v128.store offset=16 (local.get $at) (i8x16.shuffle 2 3 6 7 10 11 14 15 18 19 22 23 26 27 30 31 (local.get $v0) (local.get $v1)))
        (v128.store offset=32 (local.get $at) (i8x16.shuffle 0 1 4 5 8 9 12 13 16 17 20 21 24 25 28 29 (local.get $v2) (local.get $v3)))
        (v128.store offset=48 (local.get $at) (i8x16.shuffle 2 3 6 7 10 11 14 15 18 19 22 23 26 27 30 31 (local.get $v2) (local.get $v3)))
        (local.set $at (i32.add (local.get $at) (i32.const 64)))
        (local.set $e (i32.add (local.get $e) (i32.const 32)))
        (br $each))))

  ;; Scores τ·<key_i, q> (+ lw_i) of `len` quantized records from `p` (len ≤ block) into `out`
  ;; (f32, len + 3 entries: missing rows of the last quad repeat the last row); returns the max.
  (func $codeScores (param $p i32) (param $len i32) (param $tau f32) (param $desc i32) (param $out i32) (result f32)
    (local $stride i32) (local $kb i32) (local $kc i32) (local $ks i32) (local $lw i32) (local $kg i32) (local $ksc i32)
    (local $i i32) (local $last i32) (local $a0 i32) (local $a1 i32) (local $a2 i32) (local $a3 i32) (local $m v128) (local $sc4 v128) (local $i4 i32)
    (local.set $stride (i32.load (local.get $desc)))
    (local.set $kb (i32.load offset=12 (local.get $desc)))
    (local.set $kc (i32.load offset=20 (local.get $desc)))
    (local.set $ks (i32.load offset=28 (local.get $desc)))
    (local.set $lw (i32.load offset=36 (local.get $desc)))
    (local.set $kg (i32.load offset=40 (local.get $desc)))
    (local.set $ksc (i32.load offset=92 (local.get $desc)))
    (if (i32.eq (local.get $kb) (i32.const 32))
      (then
        (return (call $scores (i32.add (local.get $p) (local.get $kc)) (local.get $stride) (i32.load offset=4 (local.get $desc))
          (local.get $len) (select (i32.sub (local.get $lw) (local.get $kc)) (i32.const -1) (i32.ge_s (local.get $lw) (i32.const 0)))
          (local.get $tau) (i32.load offset=60 (local.get $desc)) (local.get $out)))))
    (local.set $last (i32.add (local.get $p) (i32.mul (i32.sub (local.get $len) (i32.const 1)) (local.get $stride))))
    (local.set $i4 (i32.and (i32.eq (local.get $kb) (i32.const 4)) (i32.eqz (i32.and (i32.load offset=52 (local.get $desc)) (i32.const 1)))))
    (local.set $m (f32x4.splat (f32.const -inf)))
    (block $sdone
      (loop $squads
        (br_if $sdone (i32.ge_u (local.get $i) (local.get $len)))
        (local.set $a0 (i32.add (local.get $p) (i32.mul (local.get $i) (local.get $stride))))
        (local.set $a1 (select (i32.add (local.get $a0) (local.get $stride)) (local.get $last) (i32.lt_u (i32.add (local.get $i) (i32.const 1)) (local.get $len))))
        (local.set $a2 (select (i32.add (local.get $a1) (local.get $stride)) (local.get $last) (i32.lt_u (i32.add (local.get $i) (i32.const 2)) (local.get $len))))
        (local.set $a3 (select (i32.add (local.get $a2) (local.get $stride)) (local.get $last) (i32.lt_u (i32.add (local.get $i) (i32.const 3)) (local.get $len))))
        (if (i32.gt_s (local.get $kg) (i32.const 0))
          (then
            (call $scales4 (i32.add (local.get $a0) (local.get $ks)) (i32.add (local.get $a1) (local.get $ks))
              (i32.add (local.get $a2) (local.get $ks)) (i32.add (local.get $a3) (local.get $ks))
              (i32.shl (local.get $kg) (i32.const 1)) (i32.load offset=48 (local.get $desc)) (local.get $ksc))))
        (local.set $sc4 (f32x4.add (f32x4.splat (f32.load offset=84 (local.get $desc)))
          (if (result v128) (local.get $i4)
            (then (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23
              (call $cdots2i4 (i32.add (local.get $a0) (local.get $kc)) (i32.add (local.get $a1) (local.get $kc))
                (local.get $ksc) (i32.load offset=96 (local.get $desc)) (i32.load offset=100 (local.get $desc)) (i32.load offset=64 (local.get $desc))
                (i32.shr_u (i32.load offset=4 (local.get $desc)) (i32.const 1))
                (i32.load offset=52 (local.get $desc)) (f32.load offset=104 (local.get $desc)))
              (call $cdots2i4 (i32.add (local.get $a2) (local.get $kc)) (i32.add (local.get $a3) (local.get $kc))
                (i32.add (local.get $ksc) (i32.const 8)) (i32.load offset=96 (local.get $desc)) (i32.load offset=100 (local.get $desc)) (i32.load offset=64 (local.get $desc))
                (i32.shr_u (i32.load offset=4 (local.get $desc)) (i32.const 1))
                (i32.load offset=52 (local.get $desc)) (f32.load offset=104 (local.get $desc)))))
            (else (call $cdots4 (i32.add (local.get $a0) (local.get $kc)) (i32.add (local.get $a1) (local.get $kc))
              (i32.add (local.get $a2) (local.get $kc)) (i32.add (local.get $a3) (local.get $kc))
              (local.get $ksc) (i32.load offset=96 (local.get $desc)) (i32.load offset=100 (local.get $desc)) (i32.load offset=64 (local.get $desc))
              (i32.shr_u (i32.mul (i32.load offset=4 (local.get $desc)) (local.get $kb)) (i32.const 3)) (local.get $kb)
              (i32.load offset=52 (local.get $desc)) (f32.load offset=104 (local.get $desc)))))))
        (local.set $sc4 (f32x4.mul (local.get $sc4) (f32x4.splat (local.get $tau))))
        (if (i32.ge_s (local.get $lw) (i32.const 0))
          (then (local.set $sc4 (f32x4.add (local.get $sc4)
            (f32x4.replace_lane 3 (f32x4.replace_lane 2 (f32x4.replace_lane 1
              (v128.load32_splat (i32.add (local.get $a0) (local.get $lw)))
              (f32.load (i32.add (local.get $a1) (local.get $lw))))
              (f32.load (i32.add (local.get $a2) (local.get $lw))))
              (f32.load (i32.add (local.get $a3) (local.get $lw))))))))
        (v128.store (i32.add (local.get $out) (i32.shl (local.get $i) (i32.const 2))) (local.get $sc4))
        (local.set $m (f32x4.max (local.get $m) (local.get $sc4)))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $squads)))
    (f32.max
      (f32.max (f32x4.extract_lane 0 (local.get $m)) (f32x4.extract_lane 1 (local.get $m)))
      (f32.max (f32x4.extract_lane 2 (local.get $m)) (f32x4.extract_lane 3 (local.get $m)))))

  ;; acc = Σ_i w[i]·value_i over `len` quantized records from `p` (acc overwritten, zero points
  ;; included).
  (func $codeValues (param $p i32) (param $len i32) (param $desc i32) (param $w i32) (param $acc i32)
    (local $stride i32) (local $s i32) (local $vb i32) (local $vc i32) (local $vs i32) (local $vg i32) (local $vg16 i32)
    (local $zacc i32) (local $vsc i32) (local $half i32) (local $zp i32) (local $left i32)
    (local $i i32) (local $j i32) (local $last i32) (local $a0 i32) (local $a1 i32) (local $a2 i32) (local $a3 i32) (local $wv v128)
    (local.set $stride (i32.load (local.get $desc)))
    (local.set $s (i32.load offset=8 (local.get $desc)))
    (local.set $vb (i32.load offset=16 (local.get $desc)))
    (local.set $vc (i32.load offset=24 (local.get $desc)))
    (if (i32.eq (local.get $vb) (i32.const 32))
      (then
        (call $values (i32.add (local.get $p) (local.get $vc)) (local.get $stride) (local.get $s) (local.get $len) (local.get $w) (local.get $acc))
        (return)))
    (if (i32.and (i32.eq (local.get $vb) (i32.const 4)) (i32.eqz (i32.and (i32.load offset=88 (local.get $desc)) (i32.const 1))))
      (then
        (call $codeValuesI4 (call $rowAddrs (local.get $p) (local.get $len) (local.get $stride) (i32.load offset=116 (local.get $desc)))
          (local.get $len) (local.get $desc) (local.get $w) (local.get $acc))
        (return)))
    (local.set $vs (i32.load offset=32 (local.get $desc)))
    (local.set $vg (i32.load offset=44 (local.get $desc)))
    (local.set $half (i32.load offset=48 (local.get $desc)))
    (local.set $zacc (i32.load offset=76 (local.get $desc)))
    (local.set $vsc (i32.load offset=80 (local.get $desc)))
    (local.set $vg16 (i32.load offset=88 (local.get $desc)))
    (local.set $last (i32.add (local.get $p) (i32.mul (i32.sub (local.get $len) (i32.const 1)) (local.get $stride))))
    (memory.fill (local.get $acc) (i32.const 0) (i32.shl (local.get $s) (i32.const 2)))
    (memory.fill (local.get $zacc) (i32.const 0) (i32.shl (local.get $vg) (i32.const 2)))
    (block $vdone
      (loop $vquads
        (br_if $vdone (i32.ge_u (local.get $i) (local.get $len)))
        (local.set $a0 (i32.add (local.get $p) (i32.mul (local.get $i) (local.get $stride))))
        (local.set $a1 (select (i32.add (local.get $a0) (local.get $stride)) (local.get $last) (i32.lt_u (i32.add (local.get $i) (i32.const 1)) (local.get $len))))
        (local.set $a2 (select (i32.add (local.get $a1) (local.get $stride)) (local.get $last) (i32.lt_u (i32.add (local.get $i) (i32.const 2)) (local.get $len))))
        (local.set $a3 (select (i32.add (local.get $a2) (local.get $stride)) (local.get $last) (i32.lt_u (i32.add (local.get $i) (i32.const 3)) (local.get $len))))
        ;; Weights of missing rows are 0.
        (local.set $wv (v128.load (i32.add (local.get $w) (i32.shl (local.get $i) (i32.const 2)))))
        (if (i32.lt_u (i32.sub (local.get $len) (local.get $i)) (i32.const 4))
          (then
            (local.set $wv (v128.and (local.get $wv)
              (i32x4.gt_u (i32x4.splat (i32.sub (local.get $len) (local.get $i))) (v128.const i32x4 0 1 2 3))))))
        (call $scales4 (i32.add (local.get $a0) (local.get $vs)) (i32.add (local.get $a1) (local.get $vs))
          (i32.add (local.get $a2) (local.get $vs)) (i32.add (local.get $a3) (local.get $vs))
          (i32.shl (local.get $vg) (i32.const 1)) (local.get $half) (local.get $vsc))
        (call $cvalues4 (i32.add (local.get $a0) (local.get $vc)) (i32.add (local.get $a1) (local.get $vc))
          (i32.add (local.get $a2) (local.get $vc)) (i32.add (local.get $a3) (local.get $vc))
          (local.get $vsc) (local.get $wv) (local.get $acc) (local.get $zacc)
          (i32.shr_u (i32.mul (local.get $s) (local.get $vb)) (i32.const 3)) (local.get $vb) (local.get $vg16))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $vquads)))
    ;; Zero points: every channel of group g gets zacc[g].
    (local.set $zp (local.get $zacc))
    (local.set $left (i32.shl (local.get $vg16) (i32.const 4)))
    (block $zdone
      (loop $zeach
        (br_if $zdone (i32.ge_u (local.get $j) (local.get $s)))
        (v128.store (i32.add (local.get $acc) (i32.shl (local.get $j) (i32.const 2)))
          (f32x4.add (v128.load (i32.add (local.get $acc) (i32.shl (local.get $j) (i32.const 2))))
            (v128.load32_splat (local.get $zp))))
        (local.set $j (i32.add (local.get $j) (i32.const 4)))
        ;; the next group's zero point every G channels
        (local.set $left (i32.sub (local.get $left) (i32.const 4)))
        (if (i32.eqz (local.get $left))
          (then (local.set $zp (i32.add (local.get $zp) (i32.const 4))) (local.set $left (i32.shl (local.get $vg16) (i32.const 4)))))
        (br $zeach))))

  ;; Writes the addresses of `len` records from p (stride apart) at `atab`; returns atab.
  (func $rowAddrs (param $p i32) (param $len i32) (param $stride i32) (param $atab i32) (result i32)
    (local $i i32)
    (block $done
      (loop $each
        (br_if $done (i32.ge_u (local.get $i) (local.get $len)))
        (i32.store (i32.add (local.get $atab) (i32.shl (local.get $i) (i32.const 2))) (local.get $p))
        (local.set $p (i32.add (local.get $p) (local.get $stride)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $each)))
    (local.get $atab))

  ;; codeValues for 4-bit values whose scale groups end on 16-byte chunks (G a multiple of 32), in
  ;; three passes over the block: its scales into one transposed table per quad (the coefficients
  ;; w·step in place of the steps, the zero points w·lo summed per group), the block's fixed point
  ;; 2^e from its largest coefficient (which then lies in [2^29, 2^30)), the integer sums of
  ;; $cvalues4i4, then acc = (65536·H + L)·2^−e plus each channel's zero point. The rows' record
  ;; addresses are at `atab` (i32 each), so the rows of a block may come from several runs.
  (func $codeValuesI4 (param $atab i32) (param $len i32) (param $desc i32) (param $w i32) (param $acc i32)
    (local $s i32) (local $vc i32) (local $vs i32) (local $vg i32) (local $vg16 i32) (local $zacc i32) (local $half i32) (local $zp i32) (local $left i32)
    (local $ah i32) (local $al i32) (local $qb i32) (local $tb i32) (local $i i32) (local $j i32) (local $g i32) (local $last i32)
    (local $a0 i32) (local $a1 i32) (local $a2 i32) (local $a3 i32) (local $e i32)
    (local $wv v128) (local $x v128) (local $mx v128) (local $cm f32)
    (local.set $s (i32.load offset=8 (local.get $desc)))
    (local.set $vc (i32.load offset=24 (local.get $desc)))
    (local.set $vs (i32.load offset=32 (local.get $desc)))
    (local.set $vg (i32.load offset=44 (local.get $desc)))
    (local.set $half (i32.load offset=48 (local.get $desc)))
    (local.set $zacc (i32.load offset=76 (local.get $desc)))
    (local.set $vg16 (i32.load offset=88 (local.get $desc)))
    (local.set $ah (i32.load offset=108 (local.get $desc)))
    (local.set $al (i32.load offset=112 (local.get $desc)))
    ;; table bytes per quad: 2·vg entries rounded up to four ($scales4 writes four at a time)
    (local.set $qb (i32.shl (i32.and (i32.add (i32.shl (local.get $vg) (i32.const 1)) (i32.const 3)) (i32.const -4)) (i32.const 4)))
    (local.set $last (i32.load (i32.add (local.get $atab) (i32.shl (i32.sub (local.get $len) (i32.const 1)) (i32.const 2)))))
    (memory.fill (local.get $zacc) (i32.const 0) (i32.shl (local.get $vg) (i32.const 2)))
    (local.set $mx (v128.const i64x2 0 0))
    (local.set $tb (i32.load offset=80 (local.get $desc)))
    (block $tdone
      (loop $tquads
        (br_if $tdone (i32.ge_u (local.get $i) (local.get $len)))
        (local.set $a0 (i32.load (i32.add (local.get $atab) (i32.shl (local.get $i) (i32.const 2)))))
        (local.set $a1 (select (i32.load offset=4 (i32.add (local.get $atab) (i32.shl (local.get $i) (i32.const 2)))) (local.get $last) (i32.lt_u (i32.add (local.get $i) (i32.const 1)) (local.get $len))))
        (local.set $a2 (select (i32.load offset=8 (i32.add (local.get $atab) (i32.shl (local.get $i) (i32.const 2)))) (local.get $last) (i32.lt_u (i32.add (local.get $i) (i32.const 2)) (local.get $len))))
        (local.set $a3 (select (i32.load offset=12 (i32.add (local.get $atab) (i32.shl (local.get $i) (i32.const 2)))) (local.get $last) (i32.lt_u (i32.add (local.get $i) (i32.const 3)) (local.get $len))))
        ;; Weights of missing rows are 0.
        (local.set $wv (v128.load (i32.add (local.get $w) (i32.shl (local.get $i) (i32.const 2)))))
        (if (i32.lt_u (i32.sub (local.get $len) (local.get $i)) (i32.const 4))
          (then
            (local.set $wv (v128.and (local.get $wv)
              (i32x4.gt_u (i32x4.splat (i32.sub (local.get $len) (local.get $i))) (v128.const i32x4 0 1 2 3))))))
        (call $scales4 (i32.add (local.get $a0) (local.get $vs)) (i32.add (local.get $a1) (local.get $vs))
          (i32.add (local.get $a2) (local.get $vs)) (i32.add (local.get $a3) (local.get $vs))
          (i32.shl (local.get $vg) (i32.const 1)) (local.get $half) (local.get $tb))
        (local.set $g (i32.const 0))
        (block $gdone
          (loop $groups
            (br_if $gdone (i32.ge_u (local.get $g) (local.get $vg)))
            (local.set $j (i32.add (local.get $tb) (i32.shl (local.get $g) (i32.const 5))))
            (local.set $x (f32x4.mul (local.get $wv) (v128.load offset=16 (local.get $j))))
            (v128.store offset=16 (local.get $j) (local.get $x))
            (local.set $mx (f32x4.max (local.get $mx) (local.get $x)))
            (local.set $x (f32x4.mul (local.get $wv) (v128.load (local.get $j))))
            (local.set $x (f32x4.add (local.get $x) (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $x) (local.get $x))))
            (f32.store (i32.add (local.get $zacc) (i32.shl (local.get $g) (i32.const 2)))
              (f32.add (f32.load (i32.add (local.get $zacc) (i32.shl (local.get $g) (i32.const 2))))
                (f32.add (f32x4.extract_lane 0 (local.get $x)) (f32x4.extract_lane 1 (local.get $x)))))
            (local.set $g (i32.add (local.get $g) (i32.const 1)))
            (br $groups)))
        (local.set $tb (i32.add (local.get $tb) (local.get $qb)))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $tquads)))
    (local.set $cm (f32.max (f32.max (f32x4.extract_lane 0 (local.get $mx)) (f32x4.extract_lane 1 (local.get $mx)))
      (f32.max (f32x4.extract_lane 2 (local.get $mx)) (f32x4.extract_lane 3 (local.get $mx)))))
    (memory.fill (local.get $ah) (i32.const 0) (i32.shl (local.get $s) (i32.const 2)))
    (memory.fill (local.get $al) (i32.const 0) (i32.shl (local.get $s) (i32.const 2)))
    ;; 2^e with the largest coefficient in [2^29, 2^30), kept normal (as $fixq); all zero: no sums
    (if (f32.gt (local.get $cm) (f32.const 0))
      (then
        (local.set $e (i32.sub (i32.const 29) (i32.sub (i32.shr_u (i32.reinterpret_f32 (local.get $cm)) (i32.const 23)) (i32.const 127))))
        (if (i32.gt_s (local.get $e) (i32.const 126)) (then (local.set $e (i32.const 126))))
        (if (i32.lt_s (local.get $e) (i32.const -126)) (then (local.set $e (i32.const -126))))
        (local.set $i (i32.const 0))
        (local.set $tb (i32.load offset=80 (local.get $desc)))
        (block $vdone
          (loop $vquads
            (br_if $vdone (i32.ge_u (local.get $i) (local.get $len)))
            (local.set $a0 (i32.load (i32.add (local.get $atab) (i32.shl (local.get $i) (i32.const 2)))))
            (local.set $a1 (select (i32.load offset=4 (i32.add (local.get $atab) (i32.shl (local.get $i) (i32.const 2)))) (local.get $last) (i32.lt_u (i32.add (local.get $i) (i32.const 1)) (local.get $len))))
            (local.set $a2 (select (i32.load offset=8 (i32.add (local.get $atab) (i32.shl (local.get $i) (i32.const 2)))) (local.get $last) (i32.lt_u (i32.add (local.get $i) (i32.const 2)) (local.get $len))))
            (local.set $a3 (select (i32.load offset=12 (i32.add (local.get $atab) (i32.shl (local.get $i) (i32.const 2)))) (local.get $last) (i32.lt_u (i32.add (local.get $i) (i32.const 3)) (local.get $len))))
            (call $cvalues4i4 (i32.add (local.get $a0) (local.get $vc)) (i32.add (local.get $a1) (local.get $vc))
              (i32.add (local.get $a2) (local.get $vc)) (i32.add (local.get $a3) (local.get $vc))
              (local.get $tb) (local.get $ah) (local.get $al) (i32.shr_u (local.get $s) (i32.const 1)) (local.get $vg16)
              (f32.reinterpret_i32 (i32.shl (i32.add (local.get $e) (i32.const 127)) (i32.const 23))))
            (local.set $tb (i32.add (local.get $tb) (local.get $qb)))
            (local.set $i (i32.add (local.get $i) (i32.const 4)))
            (br $vquads)))))
    ;; acc in real units, each channel with its group's zero point
    (local.set $x (f32x4.splat (f32.reinterpret_i32 (i32.shl (i32.sub (i32.const 127) (local.get $e)) (i32.const 23)))))
    (local.set $j (i32.const 0))
    (local.set $zp (local.get $zacc))
    (local.set $left (i32.shl (local.get $vg16) (i32.const 4)))
    (block $adone
      (loop $aeach
        (br_if $adone (i32.ge_u (local.get $j) (local.get $s)))
        (v128.store (i32.add (local.get $acc) (i32.shl (local.get $j) (i32.const 2)))
          (f32x4.add
            (f32x4.mul (local.get $x)
              (f32x4.add
                (f32x4.mul (f32x4.convert_i32x4_s (v128.load (i32.add (local.get $ah) (i32.shl (local.get $j) (i32.const 2))))) (f32x4.splat (f32.const 65536)))
                (f32x4.convert_i32x4_s (v128.load (i32.add (local.get $al) (i32.shl (local.get $j) (i32.const 2)))))))
            (v128.load32_splat (local.get $zp))))
        (local.set $j (i32.add (local.get $j) (i32.const 4)))
        (local.set $left (i32.sub (local.get $left) (i32.const 4)))
        (if (i32.eqz (local.get $left))
          (then (local.set $zp (i32.add (local.get $zp) (i32.const 4))) (local.set $left (i32.shl (local.get $vg16) (i32.const 4)))))
        (br $aeach))))

  ;; Attention sums over `rows` quantized records (token-wise groups, or one run of a
  ;; channel-wise group) from `rec`, merged into the totals at `tot` (f64 m, z, n[s]).
  (func (export "attendCodes") (param $rec i32) (param $rows i32) (param $tau f32) (param $desc i32) (param $tot i32)
    (local $start i32) (local $len i32) (local $p i32) (local $mb f32) (local $zb f32) (local $block i32) (local $w i32) (local $acc i32)
    (local.set $block (i32.load offset=56 (local.get $desc)))
    (local.set $w (i32.load offset=68 (local.get $desc)))
    (local.set $acc (i32.load offset=72 (local.get $desc)))
    (call $prepare (local.get $desc))
    (block $done
      (loop $blocks
        (br_if $done (i32.ge_u (local.get $start) (local.get $rows)))
        (local.set $len (i32.sub (local.get $rows) (local.get $start)))
        (if (i32.gt_u (local.get $len) (local.get $block)) (then (local.set $len (local.get $block))))
        (local.set $p (i32.add (local.get $rec) (i32.mul (local.get $start) (i32.load (local.get $desc)))))
        (local.set $mb (call $codeScores (local.get $p) (local.get $len) (local.get $tau) (local.get $desc) (local.get $w)))
        (if (f32.ne (local.get $mb) (f32.const -inf))
          (then
            (local.set $zb (call $weights (local.get $w) (local.get $len) (local.get $mb)))
            (call $codeValues (local.get $p) (local.get $len) (local.get $desc) (local.get $w) (local.get $acc))
            (call $merge (local.get $tot) (local.get $mb) (local.get $zb) (local.get $acc) (i32.load offset=8 (local.get $desc)))))
        (local.set $start (i32.add (local.get $start) (local.get $len)))
        (br $blocks))))

  ;; The parts, for callers that need every row's score (query-aware policies): scores of up to
  ;; one block of records into `out` (returns the max), and acc = Σ w·value over them. For
  ;; quantized records call `codePrepare` once per query first.
  (func (export "codePrepare") (param $desc i32) (call $prepare (local.get $desc)))
  (func (export "codeScores") (param $p i32) (param $len i32) (param $tau f32) (param $desc i32) (param $out i32) (result f32)
    (call $codeScores (local.get $p) (local.get $len) (local.get $tau) (local.get $desc) (local.get $out)))
  (func (export "codeValues") (param $p i32) (param $len i32) (param $desc i32) (param $w i32) (param $acc i32)
    (call $codeValues (local.get $p) (local.get $len) (local.get $desc) (local.get $w) (local.get $acc)))
  (func (export "recScores") (param $rec i32) (param $stride i32) (param $d i32) (param $rows i32) (param $lw i32)
    (param $tau f32) (param $q i32) (param $out i32) (result f32)
    (call $scores (local.get $rec) (local.get $stride) (local.get $d) (local.get $rows) (local.get $lw) (local.get $tau) (local.get $q) (local.get $out)))
  (func (export "recValues") (param $val i32) (param $stride i32) (param $s i32) (param $rows i32) (param $w i32) (param $acc i32)
    (call $values (local.get $val) (local.get $stride) (local.get $s) (local.get $rows) (local.get $w) (local.get $acc)))

  ;; Channel-wise key groups: the query folded into one group's key scales (lo_j, step_j of each
  ;; channel at `at`, f16 when half), qs_j = q_j·step_j (f32, d of them); returns <q, lo>, the bias
  ;; of the group's scores.
  (func $foldChannel (export "foldChannel") (param $at i32) (param $half i32) (param $q i32) (param $qs i32) (param $d i32) (result f32)
    (local $j i32) (local $a v128) (local $b v128) (local $x v128) (local $bias v128)
    (block $done
      (loop $each
        (br_if $done (i32.ge_u (local.get $j) (local.get $d)))
        (if (local.get $half)
          (then
            (local.set $x (v128.load (local.get $at)))
            (local.set $a (i32x4.extend_low_i16x8_u (local.get $x)))
            (local.set $b (i32x4.extend_high_i16x8_u (local.get $x)))
            (local.set $a (v128.or
              (f32x4.mul (i32x4.shl (v128.and (local.get $a) (i32x4.splat (i32.const 0x7fff))) (i32.const 13)) (f32x4.splat (f32.const 0x1p112)))
              (i32x4.shl (v128.and (local.get $a) (i32x4.splat (i32.const 0x8000))) (i32.const 16))))
            (local.set $b (v128.or
              (f32x4.mul (i32x4.shl (v128.and (local.get $b) (i32x4.splat (i32.const 0x7fff))) (i32.const 13)) (f32x4.splat (f32.const 0x1p112)))
              (i32x4.shl (v128.and (local.get $b) (i32x4.splat (i32.const 0x8000))) (i32.const 16))))
            (local.set $at (i32.add (local.get $at) (i32.const 16))))
          (else
            (local.set $a (v128.load (local.get $at)))
            (local.set $b (v128.load offset=16 (local.get $at)))
            (local.set $at (i32.add (local.get $at) (i32.const 32)))))
        (local.set $x (v128.load (i32.add (local.get $q) (i32.shl (local.get $j) (i32.const 2)))))
        (v128.store (i32.add (local.get $qs) (i32.shl (local.get $j) (i32.const 2)))
          (f32x4.mul (local.get $x) (i8x16.shuffle 4 5 6 7 12 13 14 15 20 21 22 23 28 29 30 31 (local.get $a) (local.get $b))))
        (local.set $bias (f32x4.add (local.get $bias)
          (f32x4.mul (local.get $x) (i8x16.shuffle 0 1 2 3 8 9 10 11 16 17 18 19 24 25 26 27 (local.get $a) (local.get $b)))))
        (local.set $j (i32.add (local.get $j) (i32.const 4)))
        (br $each)))
    (f32.add
      (f32.add (f32x4.extract_lane 0 (local.get $bias)) (f32x4.extract_lane 1 (local.get $bias)))
      (f32.add (f32x4.extract_lane 2 (local.get $bias)) (f32x4.extract_lane 3 (local.get $bias)))))

  ;; channelScores' preparation in two passes over the channels: the query folded into the group's
  ;; key scales (qs_j = q_j·step_j into the descriptor's q, <q, lo> into its bias, max |qs|), then qs
  ;; in split fixed point as $fixq, reordered as $evenOdd, in registers. Per group of 32 tokens the
  ;; four passes of $foldChannel, $fixq and $evenOdd cost a sixth of the group's attention.
  (func $prepareChannel (param $at i32) (param $q i32) (param $desc i32)
    (local $j i32) (local $d i32) (local $half i32) (local $qs i32) (local $qh i32) (local $ql i32) (local $p i32) (local $e i32) (local $mx f32)
    (local $x v128) (local $a v128) (local $b v128) (local $bias v128) (local $m v128) (local $sc v128)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128) (local $h0 v128) (local $h1 v128) (local $h2 v128) (local $h3 v128)
    (local $n0 v128) (local $n1 v128)
    (local.set $d (i32.load offset=4 (local.get $desc)))
    (local.set $half (i32.load offset=48 (local.get $desc)))
    (local.set $qs (i32.load offset=60 (local.get $desc)))
    (local.set $qh (i32.load offset=96 (local.get $desc)))
    (local.set $ql (i32.load offset=100 (local.get $desc)))
    (block $done
      (loop $each
        (br_if $done (i32.ge_u (local.get $j) (local.get $d)))
        (if (local.get $half)
          (then
            (local.set $x (v128.load (local.get $at)))
            (local.set $a (i32x4.extend_low_i16x8_u (local.get $x)))
            (local.set $b (i32x4.extend_high_i16x8_u (local.get $x)))
            (local.set $a (v128.or
              (f32x4.mul (i32x4.shl (v128.and (local.get $a) (i32x4.splat (i32.const 0x7fff))) (i32.const 13)) (f32x4.splat (f32.const 0x1p112)))
              (i32x4.shl (v128.and (local.get $a) (i32x4.splat (i32.const 0x8000))) (i32.const 16))))
            (local.set $b (v128.or
              (f32x4.mul (i32x4.shl (v128.and (local.get $b) (i32x4.splat (i32.const 0x7fff))) (i32.const 13)) (f32x4.splat (f32.const 0x1p112)))
              (i32x4.shl (v128.and (local.get $b) (i32x4.splat (i32.const 0x8000))) (i32.const 16))))
            (local.set $at (i32.add (local.get $at) (i32.const 16))))
          (else
            (local.set $a (v128.load (local.get $at)))
            (local.set $b (v128.load offset=16 (local.get $at)))
            (local.set $at (i32.add (local.get $at) (i32.const 32)))))
        (local.set $x (v128.load (i32.add (local.get $q) (i32.shl (local.get $j) (i32.const 2)))))
        (local.set $a0 (f32x4.mul (local.get $x) (i8x16.shuffle 4 5 6 7 12 13 14 15 20 21 22 23 28 29 30 31 (local.get $a) (local.get $b))))
        (v128.store (i32.add (local.get $qs) (i32.shl (local.get $j) (i32.const 2))) (local.get $a0))
        (local.set $m (f32x4.max (local.get $m) (f32x4.abs (local.get $a0))))
        (local.set $bias (f32x4.add (local.get $bias)
          (f32x4.mul (local.get $x) (i8x16.shuffle 0 1 2 3 8 9 10 11 16 17 18 19 24 25 26 27 (local.get $a) (local.get $b)))))
        (local.set $j (i32.add (local.get $j) (i32.const 4)))
        (br $each)))
    (f32.store offset=84 (local.get $desc) (f32.add
      (f32.add (f32x4.extract_lane 0 (local.get $bias)) (f32x4.extract_lane 1 (local.get $bias)))
      (f32.add (f32x4.extract_lane 2 (local.get $bias)) (f32x4.extract_lane 3 (local.get $bias)))))
    ;; 2^e as in $fixq
    (local.set $mx (f32.max (f32.max (f32x4.extract_lane 0 (local.get $m)) (f32x4.extract_lane 1 (local.get $m)))
      (f32.max (f32x4.extract_lane 2 (local.get $m)) (f32x4.extract_lane 3 (local.get $m)))))
    (if (f32.gt (local.get $mx) (f32.const 0))
      (then (local.set $e (i32.sub (i32.const 29) (i32.sub (i32.shr_u (i32.reinterpret_f32 (local.get $mx)) (i32.const 23)) (i32.const 127))))))
    (if (i32.gt_s (local.get $e) (i32.const 126)) (then (local.set $e (i32.const 126))))
    (if (i32.lt_s (local.get $e) (i32.const -126)) (then (local.set $e (i32.const -126))))
    (local.set $sc (f32x4.splat (f32.reinterpret_i32 (i32.shl (i32.add (local.get $e) (i32.const 127)) (i32.const 23)))))
    (f32.store offset=104 (local.get $desc) (f32.reinterpret_i32 (i32.shl (i32.sub (i32.const 127) (local.get $e)) (i32.const 23))))
    (local.set $p (local.get $qs))
    (local.set $j (i32.const 0))
    (block $qdone
      (loop $chunks
        (br_if $qdone (i32.ge_u (local.get $j) (local.get $d)))
        (local.set $a0 (i32x4.trunc_sat_f32x4_s (f32x4.nearest (f32x4.mul (v128.load offset=0 (local.get $p)) (local.get $sc)))))
        (local.set $h0 (i32x4.shr_s (i32x4.add (local.get $a0) (i32x4.splat (i32.const 32768))) (i32.const 16)))
        (local.set $a0 (i32x4.sub (local.get $a0) (i32x4.shl (local.get $h0) (i32.const 16))))
        (local.set $a1 (i32x4.trunc_sat_f32x4_s (f32x4.nearest (f32x4.mul (v128.load offset=16 (local.get $p)) (local.get $sc)))))
        (local.set $h1 (i32x4.shr_s (i32x4.add (local.get $a1) (i32x4.splat (i32.const 32768))) (i32.const 16)))
        (local.set $a1 (i32x4.sub (local.get $a1) (i32x4.shl (local.get $h1) (i32.const 16))))
        (local.set $a2 (i32x4.trunc_sat_f32x4_s (f32x4.nearest (f32x4.mul (v128.load offset=32 (local.get $p)) (local.get $sc)))))
        (local.set $h2 (i32x4.shr_s (i32x4.add (local.get $a2) (i32x4.splat (i32.const 32768))) (i32.const 16)))
        (local.set $a2 (i32x4.sub (local.get $a2) (i32x4.shl (local.get $h2) (i32.const 16))))
        (local.set $a3 (i32x4.trunc_sat_f32x4_s (f32x4.nearest (f32x4.mul (v128.load offset=48 (local.get $p)) (local.get $sc)))))
        (local.set $h3 (i32x4.shr_s (i32x4.add (local.get $a3) (i32x4.splat (i32.const 32768))) (i32.const 16)))
        (local.set $a3 (i32x4.sub (local.get $a3) (i32x4.shl (local.get $h3) (i32.const 16))))
        (local.set $n0 (i16x8.narrow_i32x4_s (local.get $h0) (local.get $h1)))
        (local.set $n1 (i16x8.narrow_i32x4_s (local.get $h2) (local.get $h3)))
        (v128.store offset=0 (local.get $qh) (i8x16.shuffle 0 1 4 5 8 9 12 13 16 17 20 21 24 25 28 29 (local.get $n0) (local.get $n1)))
        (v128.store offset=16 (local.get $qh) (i8x16.shuffle 2 3 6 7 10 11 14 15 18 19 22 23 26 27 30 31 (local.get $n0) (local.get $n1)))
        (local.set $n0 (i16x8.narrow_i32x4_s (local.get $a0) (local.get $a1)))
        (local.set $n1 (i16x8.narrow_i32x4_s (local.get $a2) (local.get $a3)))
        (v128.store offset=0 (local.get $ql) (i8x16.shuffle 0 1 4 5 8 9 12 13 16 17 20 21 24 25 28 29 (local.get $n0) (local.get $n1)))
        (v128.store offset=16 (local.get $ql) (i8x16.shuffle 2 3 6 7 10 11 14 15 18 19 22 23 26 27 30 31 (local.get $n0) (local.get $n1)))
        (local.set $a0 (i32x4.trunc_sat_f32x4_s (f32x4.nearest (f32x4.mul (v128.load offset=64 (local.get $p)) (local.get $sc)))))
        (local.set $h0 (i32x4.shr_s (i32x4.add (local.get $a0) (i32x4.splat (i32.const 32768))) (i32.const 16)))
        (local.set $a0 (i32x4.sub (local.get $a0) (i32x4.shl (local.get $h0) (i32.const 16))))
        (local.set $a1 (i32x4.trunc_sat_f32x4_s (f32x4.nearest (f32x4.mul (v128.load offset=80 (local.get $p)) (local.get $sc)))))
        (local.set $h1 (i32x4.shr_s (i32x4.add (local.get $a1) (i32x4.splat (i32.const 32768))) (i32.const 16)))
        (local.set $a1 (i32x4.sub (local.get $a1) (i32x4.shl (local.get $h1) (i32.const 16))))
        (local.set $a2 (i32x4.trunc_sat_f32x4_s (f32x4.nearest (f32x4.mul (v128.load offset=96 (local.get $p)) (local.get $sc)))))
        (local.set $h2 (i32x4.shr_s (i32x4.add (local.get $a2) (i32x4.splat (i32.const 32768))) (i32.const 16)))
        (local.set $a2 (i32x4.sub (local.get $a2) (i32x4.shl (local.get $h2) (i32.const 16))))
        (local.set $a3 (i32x4.trunc_sat_f32x4_s (f32x4.nearest (f32x4.mul (v128.load offset=112 (local.get $p)) (local.get $sc)))))
        (local.set $h3 (i32x4.shr_s (i32x4.add (local.get $a3) (i32x4.splat (i32.const 32768))) (i32.const 16)))
        (local.set $a3 (i32x4.sub (local.get $a3) (i32x4.shl (local.get $h3) (i32.const 16))))
        (local.set $n0 (i16x8.narrow_i32x4_s (local.get $h0) (local.get $h1)))
        (local.set $n1 (i16x8.narrow_i32x4_s (local.get $h2) (local.get $h3)))
        (v128.store offset=32 (local.get $qh) (i8x16.shuffle 0 1 4 5 8 9 12 13 16 17 20 21 24 25 28 29 (local.get $n0) (local.get $n1)))
        (v128.store offset=48 (local.get $qh) (i8x16.shuffle 2 3 6 7 10 11 14 15 18 19 22 23 26 27 30 31 (local.get $n0) (local.get $n1)))
        (local.set $n0 (i16x8.narrow_i32x4_s (local.get $a0) (local.get $a1)))
        (local.set $n1 (i16x8.narrow_i32x4_s (local.get $a2) (local.get $a3)))
        (v128.store offset=32 (local.get $ql) (i8x16.shuffle 0 1 4 5 8 9 12 13 16 17 20 21 24 25 28 29 (local.get $n0) (local.get $n1)))
        (v128.store offset=48 (local.get $ql) (i8x16.shuffle 2 3 6 7 10 11 14 15 18 19 22 23 26 27 30 31 (local.get $n0) (local.get $n1)))
        (local.set $p (i32.add (local.get $p) (i32.const 128)))
        (local.set $qh (i32.add (local.get $qh) (i32.const 64)))
        (local.set $ql (i32.add (local.get $ql) (i32.const 64)))
        (local.set $j (i32.add (local.get $j) (i32.const 32)))
        (br $chunks))))

  ;; Channel-wise key groups with 4-bit values, in blocks gathered from runs of live records:
  ;; channelScores folds the query q into the key scales of one group (at `at`), then writes the
  ;; scores of a run of `len` records from `rec` into `out` and their addresses into `atab`
  ;; (returns the run's maximum); channelValues weighs a block of such runs (scores from the
  ;; descriptor's w, maximum mb) and merges Σ w·value into the totals. Per group of G = 32 rows,
  ;; attendCodes' fixed costs were a third of the attention.
  (func (export "channelScores") (param $at i32) (param $q i32) (param $rec i32) (param $len i32) (param $tau f32)
    (param $desc i32) (param $out i32) (param $atab i32) (result f32)
    (call $prepareChannel (local.get $at) (local.get $q) (local.get $desc))
    (drop (call $rowAddrs (local.get $rec) (local.get $len) (i32.load (local.get $desc)) (local.get $atab)))
    (call $codeScores (local.get $rec) (local.get $len) (local.get $tau) (local.get $desc) (local.get $out)))
  (func (export "channelValues") (param $len i32) (param $mb f32) (param $desc i32) (param $atab i32) (param $tot i32)
    (local $zb f32)
    (if (f32.eq (local.get $mb) (f32.const -inf)) (then (return)))
    (local.set $zb (call $weights (i32.load offset=68 (local.get $desc)) (local.get $len) (local.get $mb)))
    (call $codeValuesI4 (local.get $atab) (local.get $len) (local.get $desc) (i32.load offset=68 (local.get $desc)) (i32.load offset=72 (local.get $desc)))
    (call $merge (local.get $tot) (local.get $mb) (local.get $zb) (i32.load offset=72 (local.get $desc)) (i32.load offset=8 (local.get $desc))))

  ;; The exponential on four lanes (exported for tests of its accuracy): out[i] = e^{in[i]}.
  (func (export "exp4") (param $in i32) (param $out i32)
    (v128.store (local.get $out) (call $exp (v128.load (local.get $in)))))
)
