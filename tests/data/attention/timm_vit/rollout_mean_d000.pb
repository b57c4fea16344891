Brollout_mean_d000J€Æ‘g=¸~O=ÿÉ[=5ÆV=FuK=`?N=:„a=J1P=â¡D=(ÒJ=”×_=r_C=B=ô	K=; R=çeZ=j®d=¦w==3lG=/X=;P=ÁU=qP=—b=¬G=¡O=
Ž\=Ì]=¸>C=S=…ªS=6’O=