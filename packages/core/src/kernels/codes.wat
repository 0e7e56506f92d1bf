;; The code kernel over quantized records: part of attention-f32.wat (`;; include codes.wat`),
;; so it shares that module's functions and memory.

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
  ;; in registers; up to 3 entries past n are read and written).
  (func $scales4 (param $a0 i32) (param $a1 i32) (param $a2 i32) (param $a3 i32) (param $n i32) (param $half i32) (param $out i32)
    (local $e i32) (local $x v128) (local $r0 v128) (local $r1 v128) (local $r2 v128) (local $r3 v128) (local $t0 v128) (local $t1 v128) (local $t2 v128) (local $t3 v128)
    (block $done
      (loop $each
        (br_if $done (i32.ge_u (local.get $e) (local.get $n)))
        (if (local.get $half)
          (then
            ;; rows 0, 1 in x, rows 2, 3 in r0; a 16-bit transpose (entries e, e + 1 of rows 0–3 in
            ;; t0 and e + 2, e + 3 in t1), then each half into the high half of a lane of its own
            (local.set $x (v128.load64_lane 1 (local.get $a1) (v128.load64_zero (local.get $a0))))
            (local.set $r0 (v128.load64_lane 1 (local.get $a3) (v128.load64_zero (local.get $a2))))
            (local.set $r1 (i8x16.shuffle 0 1 16 17 2 3 18 19 4 5 20 21 6 7 22 23 (local.get $x) (local.get $r0)))
            (local.set $r2 (i8x16.shuffle 8 9 24 25 10 11 26 27 12 13 28 29 14 15 30 31 (local.get $x) (local.get $r0)))
            (local.set $t0 (i8x16.shuffle 0 1 16 17 2 3 18 19 4 5 20 21 6 7 22 23 (local.get $r1) (local.get $r2)))
            (local.set $t1 (i8x16.shuffle 8 9 24 25 10 11 26 27 12 13 28 29 14 15 30 31 (local.get $r1) (local.get $r2)))
            (v128.store (local.get $out) (HALF (i8x16.shuffle 0 1 16 17 2 3 18 19 4 5 20 21 6 7 22 23 (local.get $t0) (local.get $t0))))
            (v128.store offset=16 (local.get $out) (HALF (i8x16.shuffle 8 9 24 25 10 11 26 27 12 13 28 29 14 15 30 31 (local.get $t0) (local.get $t0))))
            (v128.store offset=32 (local.get $out) (HALF (i8x16.shuffle 0 1 16 17 2 3 18 19 4 5 20 21 6 7 22 23 (local.get $t1) (local.get $t1))))
            (v128.store offset=48 (local.get $out) (HALF (i8x16.shuffle 8 9 24 25 10 11 26 27 12 13 28 29 14 15 30 31 (local.get $t1) (local.get $t1))))
            (local.set $a0 (i32.add (local.get $a0) (i32.const 8))) (local.set $a1 (i32.add (local.get $a1) (i32.const 8)))
            (local.set $a2 (i32.add (local.get $a2) (i32.const 8))) (local.set $a3 (i32.add (local.get $a3) (i32.const 8))))
          (else
            (local.set $r0 (v128.load (local.get $a0))) (local.set $r1 (v128.load (local.get $a1)))
            (local.set $r2 (v128.load (local.get $a2))) (local.set $r3 (v128.load (local.get $a3)))
            (local.set $a0 (i32.add (local.get $a0) (i32.const 16))) (local.set $a1 (i32.add (local.get $a1) (i32.const 16)))
            (local.set $a2 (i32.add (local.get $a2) (i32.const 16))) (local.set $a3 (i32.add (local.get $a3) (i32.const 16)))
            (local.set $t0 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $r0) (local.get $r1)))
            (local.set $t1 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $r0) (local.get $r1)))
            (local.set $t2 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $r2) (local.get $r3)))
            (local.set $t3 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $r2) (local.get $r3)))
            (v128.store (local.get $out) (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t0) (local.get $t2)))
            (v128.store offset=16 (local.get $out) (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t0) (local.get $t2)))
            (v128.store offset=32 (local.get $out) (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t1) (local.get $t3)))
            (v128.store offset=48 (local.get $out) (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t1) (local.get $t3)))))
        (local.set $out (i32.add (local.get $out) (i32.const 64)))
        (local.set $e (i32.add (local.get $e) (i32.const 4)))
        (br $each))))

  ;; The exponent e that puts mx·2^e in [2^29, 2^30) (0 for mx = 0), kept within ±126 so that 2^e
  ;; and 2^−e are normal floats: the fixed point of the queries and of the 4-bit values' weights.
  (func $exp2For (param $mx f32) (result i32)
    (local $e i32)
    (if (f32.gt (local.get $mx) (f32.const 0))
      (then (local.set $e (i32.sub (i32.const 29) (i32.sub (i32.shr_u (i32.reinterpret_f32 (local.get $mx)) (i32.const 23)) (i32.const 127))))))
    (if (i32.gt_s (local.get $e) (i32.const 126)) (then (local.set $e (i32.const 126))))
    (if (i32.lt_s (local.get $e) (i32.const -126)) (then (local.set $e (i32.const -126))))
    (local.get $e))

  ;; max |q_j| over n f32 (n a multiple of 4).
  (func $maxAbs (param $q i32) (param $n i32) (result f32)
    (local $j i32) (local $m v128)
    (block $done (loop $each
      (br_if $done (i32.ge_u (local.get $j) (local.get $n)))
      (local.set $m (f32x4.max (local.get $m) (f32x4.abs (v128.load (i32.add (local.get $q) (i32.shl (local.get $j) (i32.const 2)))))))
      (local.set $j (i32.add (local.get $j) (i32.const 4)))
      (br $each)))
    (f32.max (f32.max (f32x4.extract_lane 0 (local.get $m)) (f32x4.extract_lane 1 (local.get $m)))
      (f32.max (f32x4.extract_lane 2 (local.get $m)) (f32x4.extract_lane 3 (local.get $m)))))

  ;; The query in split fixed point: qh, ql (i16, n each, n a multiple of 16) with
  ;; q·2^e = 65536·qh + ql, 2^e from $exp2For(max |q|, given as mx). evenOdd: each 16 channels
  ;; stored as their even ones, then their odd ones (the order in which $cdots2i4 takes 4-bit
  ;; codes out of 16-bit lanes). Returns 2^−e.
  (func $fixq (param $q i32) (param $n i32) (param $mx f32) (param $qh i32) (param $ql i32) (param $evenOdd i32) (result f32)
    (local $j i32) (local $e i32) (local $sc v128) (local $t v128) (local $n0 v128) (local $n1 v128)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128) (local $h0 v128) (local $h1 v128) (local $h2 v128) (local $h3 v128)
    (local.set $e (call $exp2For (local.get $mx)))
    (local.set $sc (f32x4.splat (f32.reinterpret_i32 (i32.shl (i32.add (local.get $e) (i32.const 127)) (i32.const 23)))))
    (block $done (loop $chunks
      (br_if $done (i32.ge_u (local.get $j) (local.get $n)))
      (local.set $a0 (i32x4.trunc_sat_f32x4_s (f32x4.nearest (f32x4.mul (v128.load offset=0 (local.get $q)) (local.get $sc)))))
        (local.set $h0 (i32x4.shr_s (i32x4.add (local.get $a0) (i32x4.splat (i32.const 32768))) (i32.const 16)))
        (local.set $a0 (i32x4.sub (local.get $a0) (i32x4.shl (local.get $h0) (i32.const 16))))
        (local.set $a1 (i32x4.trunc_sat_f32x4_s (f32x4.nearest (f32x4.mul (v128.load offset=16 (local.get $q)) (local.get $sc)))))
        (local.set $h1 (i32x4.shr_s (i32x4.add (local.get $a1) (i32x4.splat (i32.const 32768))) (i32.const 16)))
        (local.set $a1 (i32x4.sub (local.get $a1) (i32x4.shl (local.get $h1) (i32.const 16))))
        (local.set $a2 (i32x4.trunc_sat_f32x4_s (f32x4.nearest (f32x4.mul (v128.load offset=32 (local.get $q)) (local.get $sc)))))
        (local.set $h2 (i32x4.shr_s (i32x4.add (local.get $a2) (i32x4.splat (i32.const 32768))) (i32.const 16)))
        (local.set $a2 (i32x4.sub (local.get $a2) (i32x4.shl (local.get $h2) (i32.const 16))))
        (local.set $a3 (i32x4.trunc_sat_f32x4_s (f32x4.nearest (f32x4.mul (v128.load offset=48 (local.get $q)) (local.get $sc)))))
        (local.set $h3 (i32x4.shr_s (i32x4.add (local.get $a3) (i32x4.splat (i32.const 32768))) (i32.const 16)))
        (local.set $a3 (i32x4.sub (local.get $a3) (i32x4.shl (local.get $h3) (i32.const 16))))
        (local.set $n0 (i16x8.narrow_i32x4_s (local.get $h0) (local.get $h1)))
        (local.set $n1 (i16x8.narrow_i32x4_s (local.get $h2) (local.get $h3)))
        (if (local.get $evenOdd) (then (local.set $t (i8x16.shuffle 0 1 4 5 8 9 12 13 16 17 20 21 24 25 28 29 (local.get $n0) (local.get $n1))) (local.set $n1 (i8x16.shuffle 2 3 6 7 10 11 14 15 18 19 22 23 26 27 30 31 (local.get $n0) (local.get $n1))) (local.set $n0 (local.get $t))))
        (v128.store (local.get $qh) (local.get $n0))
        (v128.store offset=16 (local.get $qh) (local.get $n1))
        (local.set $n0 (i16x8.narrow_i32x4_s (local.get $a0) (local.get $a1)))
        (local.set $n1 (i16x8.narrow_i32x4_s (local.get $a2) (local.get $a3)))
        (if (local.get $evenOdd) (then (local.set $t (i8x16.shuffle 0 1 4 5 8 9 12 13 16 17 20 21 24 25 28 29 (local.get $n0) (local.get $n1))) (local.set $n1 (i8x16.shuffle 2 3 6 7 10 11 14 15 18 19 22 23 26 27 30 31 (local.get $n0) (local.get $n1))) (local.set $n0 (local.get $t))))
        (v128.store (local.get $ql) (local.get $n0))
        (v128.store offset=16 (local.get $ql) (local.get $n1))
      (local.set $q (i32.add (local.get $q) (i32.const 64)))
      (local.set $qh (i32.add (local.get $qh) (i32.const 32)))
      (local.set $ql (i32.add (local.get $ql) (i32.const 32)))
      (local.set $j (i32.add (local.get $j) (i32.const 16)))
      (br $chunks)))
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

  ;; The descriptor of a quantized store (i32 fields by byte offset): 0 stride, 4 d, 8 s, 12 key
  ;; bits (32: f32 keys), 16 value bits (32: f32 values), 20 key code offset, 24 value code offset,
  ;; 28 key scale offset, 32 value scale offset, 36 lw offset (−1: none), 40 key groups (0: the
  ;; caller filled the key table with lo = 0, step = 1 and folded the query into the group's
  ;; steps), 44 value groups, 48 half scales, 52 key fields per scale group, 56 block rows, 60 q
  ;; (f32 d), 64 qsum (f32 per key group), 68 w (f32 block + 4), 72 acc (f32 s), 76 zacc (f32 per
  ;; value group), 80 value scale table, 84 key bias (f32, added to every dot), 88 value fields per
  ;; scale group, 92 key scale table, 96 qh, 100 ql (i16 d), 104 2^−k of the fixed-point query
  ;; (f32, written by $prepare), 108 H, 112 L (i32 s each: $codeValuesI4's integer sums; the value
  ;; scale table then holds one quad's table per quad of a block), 116 row addresses (i32, block + 4),
  ;; 120 the xor of the words $codeScores touches, 124 max |q| of a folded query (f32).

  ;; The fixed-point query of the descriptor's q (for integer keys; reordered for $cdots2i4).
  (func $prepare (param $desc i32)
    (local $q i32) (local $d i32)
    (if (i32.ne (i32.load offset=12 (local.get $desc)) (i32.const 32))
      (then
        (local.set $q (i32.load offset=60 (local.get $desc)))
        (local.set $d (i32.load offset=4 (local.get $desc)))
        (f32.store offset=104 (local.get $desc)
          (call $fixq (local.get $q) (local.get $d) (call $maxAbs (local.get $q) (local.get $d))
            (i32.load offset=96 (local.get $desc)) (i32.load offset=100 (local.get $desc))
            (i32.and (i32.eq (i32.load offset=12 (local.get $desc)) (i32.const 4)) (i32.eqz (i32.and (i32.load offset=52 (local.get $desc)) (i32.const 1)))))))))

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
    ;; Float32 values beside the codes: one word of every cache line of the records first, in
    ;; address order, so the two passes (codes, then values) read from cache. Without it the
    ;; values pass read DRAM at a third of the speed (32K rows, d = 128: 4.8 ms against 1.6).
    (if (i32.eq (i32.load offset=16 (local.get $desc)) (i32.const 32))
      (then
        (local.set $i (local.get $p))
        (local.set $a0 (i32.add (local.get $p) (i32.mul (local.get $len) (local.get $stride))))
        (local.set $a1 (i32.const 0))
        (block $touched
          (loop $touch
            (br_if $touched (i32.ge_u (local.get $i) (local.get $a0)))
            (local.set $a1 (i32.xor (local.get $a1) (i32.load (local.get $i))))
            (local.set $i (i32.add (local.get $i) (i32.const 64)))
            (br $touch)))
        ;; kept where the engine must assume a reader
        (i32.store offset=120 (local.get $desc) (local.get $a1))
        (local.set $i (i32.const 0))))
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
