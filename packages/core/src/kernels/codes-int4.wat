;; The code kernel's 4-bit paths (the default int4 layout and KIVI's): part of attention-f32.wat
;; (`;; include codes-int4.wat`), after codes.wat.

  ;; 4-bit codes whose scale groups end on 16-byte chunks (G a multiple of 32), two rows at a
  ;; time. A chunk's 16-bit lanes hold four codes each (bits 0–3, 8–11: channels 2j, 2j + 1 of the
  ;; low nibbles; bits 4–7, 12–15: the same of the high nibbles), taken out by two shifts apiece
  ;; against a query reordered to match ($fixq). Few enough live vectors that V8 keeps them in
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
    ;; 2^e with the largest coefficient in [2^29, 2^30); all zero: no sums
    (local.set $e (call $exp2For (local.get $cm)))
    (if (f32.gt (local.get $cm) (f32.const 0))
      (then
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

  ;; Channel-wise key groups: the query folded into one group's key scales (lo_j, step_j of each
  ;; channel at `at`, f16 when half), qs_j = q_j·step_j (f32, d of them), max |qs_j| stored at mx
  ;; (for $fixq, without a pass of its own); returns <q, lo>, the bias of the group's scores.
  (func $foldChannel (export "foldChannel") (param $at i32) (param $half i32) (param $q i32) (param $qs i32) (param $d i32) (param $mx i32) (result f32)
    (local $j i32) (local $a v128) (local $b v128) (local $x v128) (local $bias v128) (local $m v128)
    (block $done
      (loop $each
        (br_if $done (i32.ge_u (local.get $j) (local.get $d)))
        (if (local.get $half)
          (then
            ;; lane j holds lo_j in its low half and step_j in its high half
            (local.set $x (v128.load (local.get $at)))
            (local.set $a (HALF (i32x4.shl (local.get $x) (i32.const 16))))
            (local.set $b (HALF (local.get $x)))
            (local.set $at (i32.add (local.get $at) (i32.const 16))))
          (else
            (local.set $x (v128.load (local.get $at)))
            (local.set $b (v128.load offset=16 (local.get $at)))
            (local.set $a (i8x16.shuffle 0 1 2 3 8 9 10 11 16 17 18 19 24 25 26 27 (local.get $x) (local.get $b)))
            (local.set $b (i8x16.shuffle 4 5 6 7 12 13 14 15 20 21 22 23 28 29 30 31 (local.get $x) (local.get $b)))
            (local.set $at (i32.add (local.get $at) (i32.const 32)))))
        (local.set $x (v128.load (i32.add (local.get $q) (i32.shl (local.get $j) (i32.const 2)))))
        (local.set $bias (f32x4.add (local.get $bias) (f32x4.mul (local.get $x) (local.get $a))))
        (local.set $a (f32x4.mul (local.get $x) (local.get $b)))
        (v128.store (i32.add (local.get $qs) (i32.shl (local.get $j) (i32.const 2))) (local.get $a))
        (local.set $m (f32x4.max (local.get $m) (f32x4.abs (local.get $a))))
        (local.set $j (i32.add (local.get $j) (i32.const 4)))
        (br $each)))
    (f32.store (local.get $mx) (f32.max (f32.max (f32x4.extract_lane 0 (local.get $m)) (f32x4.extract_lane 1 (local.get $m)))
      (f32.max (f32x4.extract_lane 2 (local.get $m)) (f32x4.extract_lane 3 (local.get $m)))))
    (f32.add
      (f32.add (f32x4.extract_lane 0 (local.get $bias)) (f32x4.extract_lane 1 (local.get $bias)))
      (f32.add (f32x4.extract_lane 2 (local.get $bias)) (f32x4.extract_lane 3 (local.get $bias)))))

  ;; Channel-wise key groups with 4-bit values, in blocks gathered from runs of live records:
  ;; channelFold folds the query q into the key scales of one group (at `at`) and puts the result
  ;; in fixed point; channelScores writes the scores of a run of that group's `len` records from
  ;; `rec` into `out` and their addresses into `atab` (returns the run's maximum); channelValues weighs a block of such runs (scores from the
  ;; descriptor's w, maximum mb) and merges Σ w·value into the totals. Summing each run of G = 32
  ;; rows on its own (attendCodes per run) took a tenth longer.
  (func (export "channelFold") (param $at i32) (param $q i32) (param $desc i32)
    (f32.store offset=84 (local.get $desc)
      (call $foldChannel (local.get $at) (i32.load offset=48 (local.get $desc)) (local.get $q) (i32.load offset=60 (local.get $desc))
        (i32.load offset=4 (local.get $desc)) (i32.add (local.get $desc) (i32.const 124))))
    (f32.store offset=104 (local.get $desc)
      (call $fixq (i32.load offset=60 (local.get $desc)) (i32.load offset=4 (local.get $desc)) (f32.load offset=124 (local.get $desc))
        (i32.load offset=96 (local.get $desc)) (i32.load offset=100 (local.get $desc))
        (i32.and (i32.eq (i32.load offset=12 (local.get $desc)) (i32.const 4)) (i32.eqz (i32.and (i32.load offset=52 (local.get $desc)) (i32.const 1)))))))
  (func (export "channelScores") (param $rec i32) (param $len i32) (param $tau f32) (param $desc i32) (param $out i32) (param $atab i32) (result f32)
    (drop (call $rowAddrs (local.get $rec) (local.get $len) (i32.load (local.get $desc)) (local.get $atab)))
    (call $codeScores (local.get $rec) (local.get $len) (local.get $tau) (local.get $desc) (local.get $out)))
  (func (export "channelValues") (param $len i32) (param $mb f32) (param $desc i32) (param $atab i32) (param $tot i32)
    (local $zb f32)
    (if (f32.eq (local.get $mb) (f32.const -inf)) (then (return)))
    (local.set $zb (call $weights (i32.load offset=68 (local.get $desc)) (local.get $len) (local.get $mb)))
    (call $codeValuesI4 (local.get $atab) (local.get $len) (local.get $desc) (i32.load offset=68 (local.get $desc)) (i32.load offset=72 (local.get $desc)))
    (call $merge (local.get $tot) (local.get $mb) (local.get $zb) (i32.load offset=72 (local.get $desc)) (i32.load offset=8 (local.get $desc))))
