
BlogitsJ(øO´=à½—¾wc¿¯O>—am>D}t¾m=¾ KR>°dm¿šÍÛ¾